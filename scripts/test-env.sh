#!/usr/bin/env bash
# Start (or reuse) the real servers the tests need and print their addresses as shell exports:
#   eval "$(scripts/test-env.sh)"
source "$(dirname "$0")/lib.sh"
pg=$("$ROOT/scripts/postgres.sh" start)
redis=$("$ROOT/scripts/redis.sh" start)
consul=$("$ROOT/scripts/consul.sh" start)
printf 'export CSI_TEST_DATABASE_URL=%q\n' "$pg"
printf 'export CSI_TEST_REDIS_URL=%q\n' "$redis"
printf 'export CSI_TEST_CONSUL_ADDR=%q\n' "$consul"
printf 'export CSI_PLACES_CSV=%q\n' "$ROOT/pkg/codicefiscale/places.csv"
