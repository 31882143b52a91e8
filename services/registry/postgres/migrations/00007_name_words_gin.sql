-- The dictionary's trigram index as GIN rather than GiST: a search looks up the words similar
-- to each word given (word % w, then sorts those few by distance itself), and over a million
-- people's 30,000 words GiST's lossy signatures made that lookup 13-16 ms of a search's CPU,
-- GIN's trigram posting lists 3-5 ms. Nothing orders by distance through the index.

-- +goose Up
CREATE INDEX name_words_trgm_gin ON name_words USING gin (word gin_trgm_ops);
DROP INDEX name_words_trgm;

-- +goose Down
CREATE INDEX name_words_trgm ON name_words USING gist (word gist_trgm_ops);
DROP INDEX name_words_trgm_gin;
