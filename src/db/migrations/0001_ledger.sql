CREATE TABLE "accounts" (
	"id" text NOT NULL,
	"slot" smallint DEFAULT 0 NOT NULL,
	"kind" text NOT NULL,
	"owner_id" text,
	"balance" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "accounts_id_slot_pk" PRIMARY KEY("id","slot"),
	CONSTRAINT "accounts_balance_nonnegative" CHECK ("accounts"."balance" >= 0 OR "accounts"."kind" = 'issuance'),
	CONSTRAINT "accounts_slot_valid" CHECK ("accounts"."slot" >= 0 AND ("accounts"."slot" = 0 OR "accounts"."kind" IN ('earnings', 'platform')))
);
--> statement-breakpoint
CREATE TABLE "entries" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"transfer_id" text NOT NULL,
	"account_id" text NOT NULL,
	"slot" smallint NOT NULL,
	"amount" bigint NOT NULL,
	"balance_after" bigint NOT NULL,
	CONSTRAINT "entries_amount_nonzero" CHECK ("entries"."amount" <> 0)
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"user_id" text NOT NULL,
	"key" text NOT NULL,
	"request_hash" text NOT NULL,
	"status" integer NOT NULL,
	"response" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_keys_user_id_key_pk" PRIMARY KEY("user_id","key")
);
--> statement-breakpoint
CREATE TABLE "transfers" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor_id" text,
	"user_id" text,
	"recipient_id" text,
	"room_id" text,
	"gift_id" text,
	"gift_count" integer,
	"amount" bigint NOT NULL,
	"note" text,
	CONSTRAINT "transfers_amount_positive" CHECK ("transfers"."amount" > 0)
);
--> statement-breakpoint
ALTER TABLE "entries" ADD CONSTRAINT "entries_transfer_id_transfers_id_fk" FOREIGN KEY ("transfer_id") REFERENCES "public"."transfers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "entries" ADD CONSTRAINT "entries_account_fk" FOREIGN KEY ("account_id","slot") REFERENCES "public"."accounts"("id","slot") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "entries_account_idx" ON "entries" USING btree ("account_id","id");--> statement-breakpoint
CREATE INDEX "entries_transfer_idx" ON "entries" USING btree ("transfer_id");--> statement-breakpoint
CREATE INDEX "idempotency_keys_created_idx" ON "idempotency_keys" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "transfers_room_gifts_idx" ON "transfers" USING btree ("room_id","at") WHERE "transfers"."kind" = 'gift';