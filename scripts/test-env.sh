#!/usr/bin/env bash
# Start (or reuse) the real servers the tests need and print their addresses as shell exports:
#   exports=$(scripts/test-env.sh) || exit 1; eval "$exports"
# (not eval "$(scripts/test-env.sh)", which would go on without them when a step fails). Each
# step that fails stops it with an error naming the step and its log (scripts/lib.sh, step).
source "$(dirname "$0")/lib.sh"
pg=$(step postgres "$ROOT/scripts/postgres.sh" start) || exit 1
redis=$(step redis "$ROOT/scripts/redis.sh" start) || exit 1
consul=$(step consul "$ROOT/scripts/consul.sh" start) || exit 1
s3=$(step s3 "$ROOT/scripts/s3.sh" start) || exit 1
printf 'export CSI_TEST_DATABASE_URL=%q\n' "$pg"
printf 'export CSI_TEST_REDIS_URL=%q\n' "$redis"
printf 'export CSI_TEST_CONSUL_ADDR=%q\n' "$consul"
printf 'export CSI_TEST_S3_ENDPOINT=%q\n' "$s3"
printf 'export CSI_TEST_S3_ACCESS_KEY=%q\n' "$CSI_S3_ACCESS_KEY"
printf 'export CSI_TEST_S3_SECRET_KEY=%q\n' "$CSI_S3_SECRET_KEY"
printf 'export CSI_PLACES_CSV=%q\n' "$ROOT/pkg/codicefiscale/places.csv"
