CREATE TABLE `accounts` (
	`account` text PRIMARY KEY NOT NULL,
	`balance_wei` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `assignments` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`client_id` text NOT NULL,
	`host_id` text NOT NULL,
	`kind` text NOT NULL,
	`assigned_at_ms` integer NOT NULL,
	`released_at_ms` integer,
	`release_reason` text
);
--> statement-breakpoint
CREATE INDEX `assignments_client_idx` ON `assignments` (`client_id`,`released_at_ms`);--> statement-breakpoint
CREATE INDEX `assignments_host_idx` ON `assignments` (`host_id`,`released_at_ms`);--> statement-breakpoint
CREATE TABLE `ledger_entries` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`transfer_id` text NOT NULL,
	`account` text NOT NULL,
	`amount_wei` text NOT NULL,
	`at_ms` integer NOT NULL,
	`memo` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `ledger_account_idx` ON `ledger_entries` (`account`);--> statement-breakpoint
CREATE INDEX `ledger_transfer_idx` ON `ledger_entries` (`transfer_id`);--> statement-breakpoint
CREATE TABLE `meta` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `nodes` (
	`node_id` text PRIMARY KEY NOT NULL,
	`role` text NOT NULL,
	`enode` text NOT NULL,
	`chain_id` integer NOT NULL,
	`kind` text NOT NULL,
	`client_version` text NOT NULL,
	`payout` text,
	`capacity` integer NOT NULL,
	`region` text,
	`first_seen_ms` integer NOT NULL,
	`last_seen_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `nodes_role_idx` ON `nodes` (`role`);--> statement-breakpoint
CREATE TABLE `reports` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`node_id` text NOT NULL,
	`session_id` text NOT NULL,
	`observed_at_ms` integer NOT NULL,
	`block_number` integer NOT NULL,
	`block_hash` text NOT NULL,
	`peers` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `reports_node_idx` ON `reports` (`node_id`,`id`);--> statement-breakpoint
CREATE TABLE `sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`node_id` text NOT NULL,
	`role` text NOT NULL,
	`remote_address` text NOT NULL,
	`connected_at_ms` integer NOT NULL,
	`closed_at_ms` integer,
	`close_reason` text
);
--> statement-breakpoint
CREATE INDEX `sessions_node_idx` ON `sessions` (`node_id`);--> statement-breakpoint
CREATE INDEX `sessions_open_idx` ON `sessions` (`closed_at_ms`);