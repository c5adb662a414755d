CREATE TABLE `epoch_payouts` (
	`epoch` integer NOT NULL,
	`payee` text NOT NULL,
	`service_ms` integer NOT NULL,
	`amount_wei` text NOT NULL,
	`cumulative_wei` text NOT NULL,
	PRIMARY KEY(`epoch`, `payee`)
);
--> statement-breakpoint
CREATE TABLE `epochs` (
	`epoch` integer PRIMARY KEY NOT NULL,
	`start_ms` integer NOT NULL,
	`end_ms` integer NOT NULL,
	`revenue_wei` text NOT NULL,
	`carried_in_wei` text NOT NULL,
	`fee_wei` text NOT NULL,
	`carried_out_wei` text NOT NULL,
	`total_entitled_wei` text NOT NULL,
	`root` text NOT NULL,
	`tree` text NOT NULL,
	`settled_at_ms` integer NOT NULL,
	`tx_hash` text,
	`posted_at_ms` integer
);
--> statement-breakpoint
CREATE TABLE `pair_meters` (
	`client_id` text NOT NULL,
	`host_id` text NOT NULL,
	`last_corroborated_at_ms` integer,
	PRIMARY KEY(`client_id`, `host_id`)
);
--> statement-breakpoint
CREATE TABLE `usage` (
	`epoch` integer NOT NULL,
	`client_id` text NOT NULL,
	`host_id` text NOT NULL,
	`service_ms` integer NOT NULL,
	`charged_wei` text NOT NULL,
	PRIMARY KEY(`epoch`, `client_id`, `host_id`)
);
