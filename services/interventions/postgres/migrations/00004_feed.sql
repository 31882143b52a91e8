-- +goose Up
-- Drafts from the PAI (plandrafts.go): a draft made from an intake plan may not name its
-- cooperative yet; activation requires one (the service checks it).
ALTER TABLE authorizations ALTER COLUMN cooperative_id DROP NOT NULL;

-- Each planned service of each version of a case's plan, once handled: by the draft made from
-- it, or by the draft of an earlier version that planned the same service (carried). The key
-- makes a redelivered plan.versioned make nothing twice. The cursor of the consumer of intake's
-- feed is in feed_cursors (pkg/events ConsumerMigrations), written in the same transaction.
CREATE TABLE plan_drafts (
    case_id          uuid NOT NULL,
    plan_version     bigint NOT NULL,
    service_index    int NOT NULL,
    ambito_id        uuid NOT NULL,
    service          jsonb NOT NULL,
    authorization_id uuid NOT NULL REFERENCES authorizations (id) DEFERRABLE INITIALLY DEFERRED,
    carried          boolean NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, plan_version, service_index)
);

-- +goose Down
DROP TABLE plan_drafts;
ALTER TABLE authorizations ALTER COLUMN cooperative_id SET NOT NULL;
