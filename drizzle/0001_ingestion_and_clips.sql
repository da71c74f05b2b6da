CREATE TABLE "clip_processings" (
	"video_id" uuid PRIMARY KEY NOT NULL,
	"source_video_id" uuid NOT NULL,
	"start_position_millis" integer NOT NULL,
	"end_position_millis" integer NOT NULL,
	"status" text NOT NULL,
	"progress_percentage" integer DEFAULT 0 NOT NULL,
	"eta_seconds" integer,
	"error_code" text,
	"error_message" text,
	"error_details" jsonb,
	"started_at" timestamp (3) with time zone,
	"finished_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "video_artifacts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"video_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"position" integer NOT NULL,
	"timestamp_millis" integer,
	"width" integer NOT NULL,
	"height" integer NOT NULL,
	"size_bytes" bigint NOT NULL,
	"mime_type" text NOT NULL,
	"storage_key" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "video_ingestions" (
	"video_id" uuid PRIMARY KEY NOT NULL,
	"full" boolean NOT NULL,
	"status" text NOT NULL,
	"progress_percentage" integer DEFAULT 0 NOT NULL,
	"eta_seconds" integer,
	"metadata" jsonb,
	"quality_assessment" jsonb,
	"unavailable_features" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"web_video_available" boolean DEFAULT false NOT NULL,
	"thumbnails_available" boolean DEFAULT false NOT NULL,
	"full_frames_available" boolean DEFAULT false NOT NULL,
	"video_metadata_available" boolean DEFAULT false NOT NULL,
	"error_code" text,
	"error_message" text,
	"error_details" jsonb,
	"started_at" timestamp (3) with time zone,
	"finished_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "teams" ADD COLUMN "free_clip_enabled" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "clip_processings" ADD CONSTRAINT "clip_processings_video_id_videos_id_fk" FOREIGN KEY ("video_id") REFERENCES "public"."videos"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "clip_processings" ADD CONSTRAINT "clip_processings_source_video_id_videos_id_fk" FOREIGN KEY ("source_video_id") REFERENCES "public"."videos"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "video_artifacts" ADD CONSTRAINT "video_artifacts_video_id_videos_id_fk" FOREIGN KEY ("video_id") REFERENCES "public"."videos"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "video_ingestions" ADD CONSTRAINT "video_ingestions_video_id_videos_id_fk" FOREIGN KEY ("video_id") REFERENCES "public"."videos"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "clip_processings_one_free_clip_per_master" ON "clip_processings" USING btree ("source_video_id");--> statement-breakpoint
CREATE UNIQUE INDEX "video_artifacts_kind_position_unique" ON "video_artifacts" USING btree ("video_id","kind","position");