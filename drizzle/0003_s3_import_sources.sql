ALTER TABLE "video_imports" ADD COLUMN "source_kind" text DEFAULT 'https' NOT NULL;--> statement-breakpoint
ALTER TABLE "video_imports" ADD COLUMN "s3_endpoint" text;--> statement-breakpoint
ALTER TABLE "video_imports" ADD COLUMN "s3_region" text;--> statement-breakpoint
ALTER TABLE "video_imports" ADD COLUMN "s3_bucket" text;--> statement-breakpoint
ALTER TABLE "video_imports" ADD COLUMN "s3_object_key" text;--> statement-breakpoint
ALTER TABLE "video_imports" ADD COLUMN "s3_addressing" text;--> statement-breakpoint
ALTER TABLE "video_imports" ADD COLUMN "source_credentials" text;