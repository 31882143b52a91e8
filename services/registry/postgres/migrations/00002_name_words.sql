-- Name search by words. A trigram index over whole names makes every search recheck the
-- thousands of people who share a common given name (≈ 200 ms at a million citizens). Instead
-- each distinct word of the normalized names is kept once in a dictionary (tens of thousands of
-- words, a small trigram index) and each citizen's words in a posting table: a search finds
-- the dictionary words near each word it was given (typos tolerated), then intersects their
-- postings through the primary key. Triggers keep both tables in step with citizens, per
-- statement, so that a COPY-based import pays once per chunk and not once per row.

-- +goose Up
-- Filling the tables reads every citizen: no statement timeout for this migration.
SET LOCAL statement_timeout = 0;

CREATE TABLE name_words (
    word text PRIMARY KEY
);
CREATE INDEX name_words_trgm ON name_words USING gist (word gist_trgm_ops);

-- citizen_words: the words of every live (not merged) citizen's normalized name.
CREATE TABLE citizen_words (
    ambito_id  uuid NOT NULL,
    word       text NOT NULL,
    citizen_id uuid NOT NULL,
    PRIMARY KEY (ambito_id, word, citizen_id)
);

-- registry_name_words: the words a citizen is found by: each word of the normalized name, and
-- a family or given name of several words also written as one ("De Luca" as "deluca", "Maria
-- Grazia" as "mariagrazia"), as people often type them. One expression (no sort, no subquery,
-- inlined by the planner): it runs for every row an import writes.
-- +goose StatementBegin
CREATE FUNCTION registry_name_words(family text, given text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT string_to_array(registry_normalize(family || ' ' || given), ' ')
        || CASE WHEN family ~ '[^[:alpha:]]' THEN ARRAY[replace(registry_normalize(family), ' ', '')] ELSE '{}'::text[] END
        || CASE WHEN given ~ '[^[:alpha:]]' THEN ARRAY[replace(registry_normalize(given), ' ', '')] ELSE '{}'::text[] END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION registry_words_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH w AS MATERIALIZED (
            SELECT DISTINCT n.ambito_id, x.w, n.id FROM new_rows n, unnest(registry_name_words(n.family_name, n.given_name)) x(w)
            WHERE n.merged_into IS NULL AND x.w <> ''),
        dict AS (INSERT INTO name_words (word) SELECT DISTINCT w.w FROM w ON CONFLICT DO NOTHING)
    INSERT INTO citizen_words (ambito_id, word, citizen_id) SELECT * FROM w ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION registry_words_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Only rows whose words may have changed: a new name, a merge, a move to another ambito.
    -- Delete, then insert, in two statements: a word the new name keeps is inserted again.
    DELETE FROM citizen_words cw
        USING (SELECT DISTINCT o.ambito_id, w, o.id FROM old_rows o JOIN new_rows n ON n.id = o.id,
                   unnest(registry_name_words(o.family_name, o.given_name)) w
               WHERE o.merged_into IS NULL AND w <> ''
                 AND (o.name_norm IS DISTINCT FROM n.name_norm OR n.merged_into IS NOT NULL OR o.ambito_id <> n.ambito_id)
              ) x(ambito_id, word, id)
        WHERE cw.ambito_id = x.ambito_id AND cw.word = x.word AND cw.citizen_id = x.id;
    INSERT INTO name_words (word)
        SELECT DISTINCT w FROM old_rows o JOIN new_rows n ON n.id = o.id, unnest(registry_name_words(n.family_name, n.given_name)) w
        WHERE n.merged_into IS NULL AND w <> ''
          AND (o.name_norm IS DISTINCT FROM n.name_norm OR o.merged_into IS NOT NULL OR o.ambito_id <> n.ambito_id)
        ON CONFLICT DO NOTHING;
    INSERT INTO citizen_words (ambito_id, word, citizen_id)
        SELECT DISTINCT n.ambito_id, w, n.id FROM old_rows o JOIN new_rows n ON n.id = o.id, unnest(registry_name_words(n.family_name, n.given_name)) w
        WHERE n.merged_into IS NULL AND w <> ''
          AND (o.name_norm IS DISTINCT FROM n.name_norm OR o.merged_into IS NOT NULL OR o.ambito_id <> n.ambito_id)
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER citizens_words_inserted AFTER INSERT ON citizens
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION registry_words_inserted();
CREATE TRIGGER citizens_words_updated AFTER UPDATE ON citizens
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION registry_words_updated();

-- The citizens already there.
INSERT INTO name_words (word)
    SELECT DISTINCT w FROM citizens c, unnest(registry_name_words(c.family_name, c.given_name)) w WHERE c.merged_into IS NULL AND w <> '';
INSERT INTO citizen_words (ambito_id, word, citizen_id)
    SELECT DISTINCT c.ambito_id, w, c.id FROM citizens c, unnest(registry_name_words(c.family_name, c.given_name)) w WHERE c.merged_into IS NULL AND w <> '';

-- Whole-name trigrams are no longer searched: likely duplicates are looked for among the people
-- born on the same day (citizens_birth_date), a few dozen at most.
DROP INDEX citizens_name_trgm;

-- +goose Down
CREATE INDEX citizens_name_trgm ON citizens USING gin (name_norm gin_trgm_ops);
DROP TRIGGER citizens_words_updated ON citizens;
DROP TRIGGER citizens_words_inserted ON citizens;
DROP FUNCTION registry_words_updated();
DROP FUNCTION registry_words_inserted();
DROP FUNCTION registry_name_words(text, text);
DROP TABLE citizen_words;
DROP TABLE name_words;
