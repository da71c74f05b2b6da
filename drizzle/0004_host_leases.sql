CREATE TABLE "host_leases" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"host" text NOT NULL,
	"video_id" uuid NOT NULL,
	"holder" text NOT NULL,
	"connections" integer NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "host_leases_host_idx" ON "host_leases" USING btree ("host","expires_at");