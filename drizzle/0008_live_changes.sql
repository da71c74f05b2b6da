CREATE TABLE "live_change_prunes" (
	"id" integer PRIMARY KEY DEFAULT 1 NOT NULL,
	"pruned_through_seq" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "live_changes" (
	"seq" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "live_changes_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"team_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"video_id" uuid,
	"webhook_id" uuid,
	"delivery_id" uuid,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "live_changes_team_seq_idx" ON "live_changes" USING btree ("team_id","seq");--> statement-breakpoint
CREATE INDEX "live_changes_created_idx" ON "live_changes" USING btree ("created_at");--> statement-breakpoint
INSERT INTO "live_change_prunes" ("id", "pruned_through_seq") VALUES (1, 0);
--> statement-breakpoint
-- Live updates (issue 16): every committed change of what a video's wire form shows, every video
-- deletion and every recorded webhook delivery attempt leaves a row in live_changes. The triggers
-- are deferred to commit and take their sequence number under one transaction-scoped advisory lock,
-- held until the commit is visible: sequence numbers are then handed out in commit order, so a
-- reader that has read up to n can never later see a change committed with a number below n.
CREATE FUNCTION "reelin_record_live_change"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  team uuid;
BEGIN
  PERFORM pg_advisory_xact_lock(7262001616);
  IF TG_TABLE_NAME = 'videos' THEN
    IF TG_OP = 'DELETE' THEN
      INSERT INTO live_changes (team_id, kind, video_id) VALUES (OLD.team_id, 'video.deleted', OLD.id);
      team := OLD.team_id;
    ELSE
      INSERT INTO live_changes (team_id, kind, video_id) VALUES (NEW.team_id, 'video', NEW.id);
      team := NEW.team_id;
    END IF;
  ELSIF TG_TABLE_NAME = 'webhook_delivery_attempts' THEN
    INSERT INTO live_changes (team_id, kind, webhook_id, delivery_id)
      SELECT d.team_id, 'webhook.delivery', d.webhook_id, d.id FROM webhook_deliveries d WHERE d.id = NEW.delivery_id
      RETURNING team_id INTO team;
  ELSE
    -- A state row of a video (import, ingestion, clip processing). Its video may have been deleted
    -- later in the same transaction: then it has no team any more and its deletion is recorded.
    INSERT INTO live_changes (team_id, kind, video_id)
      SELECT v.team_id, 'video', v.id FROM videos v WHERE v.id = NEW.video_id
      RETURNING team_id INTO team;
    -- A new clip changes its master's wire form too (its clipId).
    IF TG_TABLE_NAME = 'clip_processings' AND TG_OP = 'INSERT' THEN
      INSERT INTO live_changes (team_id, kind, video_id)
        SELECT v.team_id, 'video', v.id FROM videos v WHERE v.id = NEW.source_video_id;
    END IF;
  END IF;
  IF team IS NOT NULL THEN
    PERFORM pg_notify('reelin_live', team::text);
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER "videos_live_change" AFTER INSERT OR UPDATE OR DELETE ON "videos"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "reelin_record_live_change"();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER "video_imports_live_change" AFTER INSERT OR UPDATE ON "video_imports"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "reelin_record_live_change"();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER "video_ingestions_live_change" AFTER INSERT OR UPDATE ON "video_ingestions"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "reelin_record_live_change"();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER "clip_processings_live_change" AFTER INSERT OR UPDATE ON "clip_processings"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "reelin_record_live_change"();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER "webhook_delivery_attempts_live_change" AFTER INSERT ON "webhook_delivery_attempts"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "reelin_record_live_change"();
