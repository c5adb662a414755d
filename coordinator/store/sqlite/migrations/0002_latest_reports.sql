ALTER TABLE `nodes` ADD `latest_report_id` integer;--> statement-breakpoint
ALTER TABLE `nodes` ADD `latest_session_id` text;--> statement-breakpoint
ALTER TABLE `nodes` ADD `latest_observed_at_ms` integer;--> statement-breakpoint
ALTER TABLE `nodes` ADD `latest_block_number` integer;--> statement-breakpoint
ALTER TABLE `nodes` ADD `latest_block_hash` text;--> statement-breakpoint
ALTER TABLE `nodes` ADD `latest_peers` text;--> statement-breakpoint
CREATE INDEX `assignments_released_idx` ON `assignments` (`released_at_ms`);--> statement-breakpoint
-- Backfill: each node's latest report moves onto its row, so pruning the history never loses it.
UPDATE `nodes` SET (`latest_report_id`, `latest_session_id`, `latest_observed_at_ms`, `latest_block_number`, `latest_block_hash`, `latest_peers`) = (
  SELECT `id`, `session_id`, `observed_at_ms`, `block_number`, `block_hash`, `peers` FROM `reports` r WHERE r.`node_id` = `nodes`.`node_id` ORDER BY r.`id` DESC LIMIT 1
);--> statement-breakpoint
-- Metering state of released pairs is no longer kept (releaseAssignment deletes it): drop what earlier releases left.
DELETE FROM `pair_meters` WHERE NOT EXISTS (
  SELECT 1 FROM `assignments` a WHERE a.`client_id` = `pair_meters`.`client_id` AND a.`host_id` = `pair_meters`.`host_id` AND a.`released_at_ms` IS NULL
);
