-- +goose Up
-- outbox_bound is the position up to which the feed may serve rows read with snap (the reading
-- statement's own snapshot): the smallest xid in progress in snap that is not proven to belong
-- to another database, else snap's xmax; see events.go for why it skips nothing. Its
-- statements run in this order on purpose: the process list is read after snap was taken, and
-- the lock table after the process list.
-- +goose StatementBegin
CREATE FUNCTION outbox_bound(snap pg_snapshot) RETURNS xid8
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS $$
DECLARE
    foreign_pids int[];
    foreign_xids xid[];
    bound xid8;
    own xid8 := pg_current_xact_id_if_assigned();
BEGIN
    IF pg_snapshot_xmin(snap) <> pg_snapshot_xmax(snap) THEN
        -- A fresh copy of the process list, not one cached earlier in this transaction.
        PERFORM pg_stat_clear_snapshot();
        SELECT array_agg(a.pid) INTO foreign_pids FROM pg_stat_get_activity(NULL) a
        WHERE a.datid IS NOT NULL AND a.datid <> (SELECT d.oid FROM pg_database d WHERE d.datname = current_database());
        -- The xids whose own lock (held from the xid's assignment to the transaction's end) is
        -- held by one of those processes; a prepared transaction's lock has no process.
        IF foreign_pids IS NOT NULL THEN
            SELECT array_agg(l.transactionid) INTO foreign_xids FROM pg_locks l
            WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted AND l.pid = ANY (foreign_pids);
        END IF;
        SELECT min(x) INTO bound FROM pg_snapshot_xip(snap) x
        WHERE foreign_xids IS NULL OR NOT xid(x) = ANY (foreign_xids);
    END IF;
    bound := coalesce(bound, pg_snapshot_xmax(snap));
    -- The reader's own transaction, when it wrote: its rows are visible to it but not final.
    IF own IS NOT NULL AND own < bound THEN
        bound := own;
    END IF;
    RETURN bound;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION outbox_bound(pg_snapshot);
