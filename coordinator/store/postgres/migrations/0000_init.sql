CREATE TABLE "accounts" (
	"account" text PRIMARY KEY NOT NULL,
	"balance_wei" numeric(78, 0) NOT NULL
);
--> statement-breakpoint
CREATE TABLE "assignments" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"client_id" text NOT NULL,
	"host_id" text NOT NULL,
	"kind" text NOT NULL,
	"assigned_at_ms" bigint NOT NULL,
	"released_at_ms" bigint,
	"release_reason" text
);
--> statement-breakpoint
CREATE TABLE "epoch_payouts" (
	"epoch" integer NOT NULL,
	"payee" text NOT NULL,
	"service_ms" bigint NOT NULL,
	"amount_wei" numeric(78, 0) NOT NULL,
	"cumulative_wei" numeric(78, 0) NOT NULL,
	CONSTRAINT "epoch_payouts_epoch_payee_pk" PRIMARY KEY("epoch","payee")
);
--> statement-breakpoint
CREATE TABLE "epochs" (
	"epoch" integer PRIMARY KEY NOT NULL,
	"start_ms" bigint NOT NULL,
	"end_ms" bigint NOT NULL,
	"revenue_wei" numeric(78, 0) NOT NULL,
	"carried_in_wei" numeric(78, 0) NOT NULL,
	"fee_wei" numeric(78, 0) NOT NULL,
	"carried_out_wei" numeric(78, 0) NOT NULL,
	"total_entitled_wei" numeric(78, 0) NOT NULL,
	"root" text NOT NULL,
	"tree" text NOT NULL,
	"settled_at_ms" bigint NOT NULL,
	"tx_hash" text,
	"posted_at_ms" bigint
);
--> statement-breakpoint
CREATE TABLE "ledger_entries" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"transfer_id" text NOT NULL,
	"account" text NOT NULL,
	"amount_wei" numeric(78, 0) NOT NULL,
	"at_ms" bigint NOT NULL,
	"memo" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "meta" (
	"key" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "nodes" (
	"node_id" text PRIMARY KEY NOT NULL,
	"role" text NOT NULL,
	"enode" text NOT NULL,
	"chain_id" bigint NOT NULL,
	"kind" text NOT NULL,
	"client_version" text NOT NULL,
	"payout" text,
	"capacity" integer NOT NULL,
	"region" text,
	"first_seen_ms" bigint NOT NULL,
	"last_seen_ms" bigint NOT NULL,
	"latest_report_id" bigint,
	"latest_session_id" text,
	"latest_observed_at_ms" bigint,
	"latest_block_number" bigint,
	"latest_block_hash" text,
	"latest_peers" text
);
--> statement-breakpoint
CREATE TABLE "pair_meters" (
	"client_id" text NOT NULL,
	"host_id" text NOT NULL,
	"last_corroborated_at_ms" bigint,
	CONSTRAINT "pair_meters_client_id_host_id_pk" PRIMARY KEY("client_id","host_id")
);
--> statement-breakpoint
CREATE TABLE "reports" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"node_id" text NOT NULL,
	"session_id" text NOT NULL,
	"observed_at_ms" bigint NOT NULL,
	"block_number" bigint NOT NULL,
	"block_hash" text NOT NULL,
	"peers" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"node_id" text NOT NULL,
	"role" text NOT NULL,
	"remote_address" text NOT NULL,
	"connected_at_ms" bigint NOT NULL,
	"closed_at_ms" bigint,
	"close_reason" text
);
--> statement-breakpoint
CREATE TABLE "usage" (
	"epoch" integer NOT NULL,
	"client_id" text NOT NULL,
	"host_id" text NOT NULL,
	"service_ms" bigint NOT NULL,
	"charged_wei" numeric(78, 0) NOT NULL,
	CONSTRAINT "usage_epoch_client_id_host_id_pk" PRIMARY KEY("epoch","client_id","host_id")
);
--> statement-breakpoint
CREATE INDEX "assignments_client_idx" ON "assignments" USING btree ("client_id","released_at_ms");--> statement-breakpoint
CREATE INDEX "assignments_host_idx" ON "assignments" USING btree ("host_id","released_at_ms");--> statement-breakpoint
CREATE INDEX "assignments_released_idx" ON "assignments" USING btree ("released_at_ms");--> statement-breakpoint
CREATE INDEX "ledger_account_idx" ON "ledger_entries" USING btree ("account");--> statement-breakpoint
CREATE INDEX "ledger_transfer_idx" ON "ledger_entries" USING btree ("transfer_id");--> statement-breakpoint
CREATE INDEX "nodes_role_idx" ON "nodes" USING btree ("role");--> statement-breakpoint
CREATE INDEX "reports_node_idx" ON "reports" USING btree ("node_id","id");--> statement-breakpoint
CREATE INDEX "sessions_node_idx" ON "sessions" USING btree ("node_id");--> statement-breakpoint
CREATE INDEX "sessions_open_idx" ON "sessions" USING btree ("closed_at_ms");