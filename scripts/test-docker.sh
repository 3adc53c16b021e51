#!/usr/bin/env bash
# test-docker.sh -- the compose deployment end to end, with no registry: base images by
# debootstrap, the zcrawl/redis/FerretDB/Prometheus images, then the offline stack with N
# fetchers crawling the emulator; one fetcher is killed mid-crawl; every reachable book
# must end up in the database exactly once. From outside the stack's network it proves
# that nothing answers without its password: Redis and MongoDB (published on loopback
# by docker-compose.expose-db.yml, unpublished without it), the broker's status page
# and /metrics, Prometheus, each refusing without the password and answering with it. Everything is torn down (docker compose down -v) at
# the end, also on failure or Ctrl-C. Ends with one line "docker: N passed, N failed".
#
# The emulator's size and latency keep the crawl at ~20-30 s and inside what FerretDB's
# SQLite backend upserts quickly (its upserts get slower as the collection grows).
#
# Environment: DOCKER_TEST_BOOKS (1000), DOCKER_TEST_LATENCY_MS (200),
# DOCKER_TEST_FETCHERS (3), DOCKER_TEST_TIMEOUT (300 s for the crawl),
# DOCKER_TEST_KEEP=1 leaves the stack up (prints how to remove it).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
PY=/usr/bin/python3

BOOKS=${DOCKER_TEST_BOOKS:-1000}
LATENCY=${DOCKER_TEST_LATENCY_MS:-200}
FETCHERS=${DOCKER_TEST_FETCHERS:-3}
CRAWL_TIMEOUT=${DOCKER_TEST_TIMEOUT:-300}
KEEP=${DOCKER_TEST_KEEP:-0}
CRAWL=dockertest
PAGES=$((BOOKS + (BOOKS + 17) / 18))   # detail pages + list pages
PROJECT=zctest$$

. scripts/checks.sh
note() { echo "  .. $*"; }

# A user's ZCRAWL_* / port variables would beat the test's env file: drop them.
for v in $(compgen -e); do
    case "$v" in
        ZCRAWL_*|SITESIM_*|REDIS_*|MONGO_*|BROKER_*) unset "$v" ;;
    esac
done

if ! command -v docker >/dev/null 2>&1 || ! timeout 20 docker info >/dev/null 2>&1; then
    echo "SKIP: no Docker engine answers"
    echo "docker: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
    COMPOSE=(docker-compose)
else
    echo "FAIL: neither 'docker compose' nor docker-compose is installed"
    echo "docker: 0 passed, 1 failed"
    exit 1
fi

tmp=$(mktemp -d /tmp/zcrawl-docker-test.XXXXXX)
envfile=$tmp/test.env
# CURVE keys for the stack, readable by the image's user (uid 10001), mounted read-only.
bin/zcrawl keygen "$tmp/keys" >/dev/null && chown -R 10001:10001 "$tmp/keys" ||
    { echo "FAIL: zcrawl keygen"; echo "docker: 0 passed, 1 failed"; exit 1; }
cat >"$envfile" <<EOF
ZCRAWL_START_URL=http://emulator:8080/api/book/?limit=18&offset=0
ZCRAWL_CRAWL=$CRAWL
ZCRAWL_MODE=batch
ZCRAWL_MAX_PER_HOST=8
ZCRAWL_CONCURRENCY=16
ZCRAWL_LOG_LEVEL=info
ZCRAWL_BATCH=100
SITESIM_BOOKS=$BOOKS
SITESIM_LATENCY_MS=$LATENCY
SITESIM_JITTER_MS=$((LATENCY / 4))
SITESIM_SEED=11
ZCRAWL_PUBLISH_ADDR=127.0.0.1
REDIS_PUBLISH_ADDR=127.0.0.1
MONGO_PUBLISH_ADDR=127.0.0.1
REDIS_HOST_PORT=
MONGO_HOST_PORT=
BROKER_HOST_PORTS=
METRICS_HOST_PORT=
PROMETHEUS_HOST_PORT=
SITESIM_HOST_PORT=
ZCRAWL_KEYS_DIR=$tmp/keys
EOF
REDIS_PW=$(cat "$tmp/keys/redis.password") MONGO_PW=$(cat "$tmp/keys/mongo.password")
METRICS_PW=$(cat "$tmp/keys/metrics.password")
DC_BASE=("${COMPOSE[@]}" -p "$PROJECT" -f deploy/docker-compose.yml -f deploy/docker-compose.offline.yml
    --env-file "$envfile")
# Redis and MongoDB published on loopback, so that the test can knock from outside.
DC=("${DC_BASE[@]}" -f deploy/docker-compose.expose-db.yml)

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$failed" -gt 0 ] || [ "$rc" -ne 0 ]; then
        echo "== logs (last 30 lines per container)"
        timeout 60 "${DC[@]}" logs --no-color --tail=30 2>&1 | tail -n 400
    fi
    if [ "$KEEP" = 1 ]; then
        echo "== DOCKER_TEST_KEEP=1: stack left up; remove it with:"
        echo "   ${DC[*]} down -v"
    else
        echo "== teardown"
        if timeout 120 "${DC[@]}" down -v --remove-orphans -t 5 >"$tmp/down.log" 2>&1; then
            left=$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT" | wc -l)
            vols=$(docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT" | wc -l)
            if [ "$left" = 0 ] && [ "$vols" = 0 ]; then
                pass "teardown: no containers or volumes of $PROJECT left"
            else
                fail "teardown: $left containers, $vols volumes of $PROJECT left"
            fi
        else
            cat "$tmp/down.log"
            fail "docker compose down -v failed"
        fi
        rm -rf "$tmp"
    fi
    checks_finish docker "$rc"
}
trap cleanup EXIT
trap 'echo "interrupted"; failed=$((failed + 1)); exit 130' INT TERM

# Containers by compose labels (both compose flavours set them); much faster than
# `compose ps` in the polling loop.
cid() {
    docker ps -aq --no-trunc --filter "label=com.docker.compose.project=$PROJECT" \
        --filter "label=com.docker.compose.service=$1" 2>/dev/null
}
# check OK PASS-TEXT FAIL-TEXT: OK is 1 or 0.

# ---- images ----------------------------------------------------------------------
echo "== base images (scripts/build-base-image.sh)"
t0=$SECONDS
if scripts/build-base-image.sh; then
    pass "base images debian:bookworm, debian:bookworm-slim ($((SECONDS - t0)) s)"
else
    fail "scripts/build-base-image.sh"; exit 1
fi

if [ ! -x .tools/bin/ferretdb ]; then
    fail ".tools/bin/ferretdb is missing (make deps installs it): the offline stack needs it"
    exit 1
fi

echo "== images (${COMPOSE[*]} build)"
t0=$SECONDS
# broker, fetcher, parser, writer and emulator share one image (zcrawl:local): build it once.
if timeout 1800 "${DC[@]}" build redis mongo broker prometheus >"$tmp/build.log" 2>&1; then
    pass "images zcrawl, redis, ferretdb, prometheus built ($((SECONDS - t0)) s)"
else
    tail -n 40 "$tmp/build.log"
    fail "${COMPOSE[*]} build"; exit 1
fi

# ---- the stack -----------------------------------------------------------------------
echo "== up: redis, ferretdb, emulator ($BOOKS books, ${LATENCY} ms)"
t0=$SECONDS
if ! timeout 300 "${DC[@]}" up -d --no-build redis mongo emulator >"$tmp/up.log" 2>&1; then
    cat "$tmp/up.log"
    fail "${COMPOSE[*]} up redis mongo emulator"; exit 1
fi
svc_health() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' \
    "$(cid "$1")" 2>/dev/null; }
for svc in redis mongo emulator; do
    until [ "$(svc_health "$svc")" = healthy ]; do
        if [ $((SECONDS - t0)) -ge 120 ]; then fail "$svc not healthy after 120 s"; exit 1; fi
        sleep 1
    done
done
pass "redis, ferretdb and emulator healthy ($((SECONDS - t0)) s)"

redis_id=$(cid redis)
rcli() { timeout 10 docker exec -e REDISCLI_AUTH="$REDIS_PW" "$redis_id" redis-cli --raw "$@" 2>/dev/null; }

# ---- exposure: nothing answers from outside the stack's network without its password ----
echo "== exposure, from outside the stack's network"
v=0
"${DC_BASE[@]}" config 2>/dev/null | $PY -c '
import sys, yaml
s = yaml.safe_load(sys.stdin)["services"]
sys.exit(0 if not s["redis"].get("ports") and not s["mongo"].get("ports") else 1)' && v=1
check "$v" "redis and mongo publish no port without docker-compose.expose-db.yml" \
    "redis or mongo publishes a port in the stack as shipped"
redis_port=$("${DC[@]}" port redis 6379 2>/dev/null | tail -n 1); redis_port=${redis_port##*:}
mongo_port=$("${DC[@]}" port mongo 27017 2>/dev/null | tail -n 1)
r_none=$(timeout 10 redis-cli -h 127.0.0.1 -p "$redis_port" GET "zcrawl:{$CRAWL}:waiting" 2>&1)
r_bad=$(REDISCLI_AUTH=wrong-password timeout 10 redis-cli --no-auth-warning -h 127.0.0.1 -p "$redis_port" PING 2>&1)
r_ok=$(REDISCLI_AUTH=$REDIS_PW timeout 10 redis-cli -h 127.0.0.1 -p "$redis_port" PING 2>&1)
v=0; [[ "$r_none" == *NOAUTH* ]] && [[ "$r_bad" == *WRONGPASS* ]] && [ "$r_ok" = PONG ] && v=1
check "$v" "redis on 127.0.0.1:$redis_port: NOAUTH without the password, WRONGPASS with another, PONG with it" \
    "redis on 127.0.0.1:$redis_port answered '$r_none' / '$r_bad' / '$r_ok'"
v=0
$PY - "$mongo_port" "$MONGO_PW" <<'PYEOF' && v=1
import sys, pymongo, pymongo.errors
port, pw = sys.argv[1:3]
def attempt(uri):
    c = pymongo.MongoClient(uri, serverSelectionTimeoutMS=10000)
    try:
        c["zcrawl"]["probe"].insert_one({"x": 1})
        c["zcrawl"]["probe"].drop()
        return "ok"
    except pymongo.errors.OperationFailure as e:
        return "refused %s" % e.code
    finally:
        c.close()
none = attempt("mongodb://%s/zcrawl" % port)
bad = attempt("mongodb://zcrawl:wrong@%s/zcrawl?authSource=admin" % port)
good = attempt("mongodb://zcrawl:%s@%s/zcrawl?authSource=admin" % (pw, port))
print("  .. mongo without a password: %s; with a wrong one: %s; with it: %s" % (none, bad, good))
sys.exit(0 if none == "refused 13" and bad == "refused 18" and good == "ok" else 1)
PYEOF
check "$v" "mongo on $mongo_port refuses without the password and with a wrong one, takes it" \
    "mongo on $mongo_port did not refuse and accept as it should"
# ST[field]: the stats hash, from the last HGETALL.
declare -A ST
read_stats() {
    ST=()
    local k v
    while IFS= read -r k && IFS= read -r v; do ST[$k]=$v; done < <(rcli HGETALL "zcrawl:{$CRAWL}:stats")
}
stat() { echo "${ST[$1]:-}"; }
state_of() { docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$1" 2>/dev/null; }
health_of() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$1" 2>/dev/null; }

# `up` runs in the background so the queue is watched from the first second.
echo "== up --scale fetcher=$FETCHERS: broker, $FETCHERS fetchers, parser, writer; queue depth from redis-cli"
t0=$SECONDS
( timeout 300 "${DC[@]}" up -d --no-build --scale fetcher="$FETCHERS" >"$tmp/up.log" 2>&1
  echo $? >"$tmp/up.rc" ) &
up_pid=$!
up_done=0; broker_id=""
page=""; page_json=""
code() { timeout 10 curl -s -o /dev/null -w '%{http_code}' "$@"; }
killed=""; seen_running=0; max_depth=0; max_hdepth=0; max_fetchers=0; broker_healthy=0; broker_exit=""
last_print=-10
while :; do
    el=$((SECONDS - t0))
    if [ "$up_done" = 0 ] && [ -s "$tmp/up.rc" ]; then
        up_done=1
        wait "$up_pid" 2>/dev/null
        if [ "$(cat "$tmp/up.rc")" = 0 ]; then
            pass "stack up with --scale fetcher=$FETCHERS (${el} s)"
            n=$(cid fetcher | wc -l)
            v=0; [ "$n" = "$FETCHERS" ] && v=1
            check "$v" "$FETCHERS fetcher containers" \
                "expected $FETCHERS fetcher containers, found $n"
        else
            cat "$tmp/up.log"
            fail "${COMPOSE[*]} up"; exit 1
        fi
    fi
    [ -z "$broker_id" ] && broker_id=$(cid broker)
    read_stats
    # The README's recipe: URLs waiting in all the per-host queues, and in the one
    # host's queue (the emulator is the only host).
    depth=$(rcli GET "zcrawl:{$CRAWL}:waiting"); depth=${depth:-0}
    hdepth=$(rcli LLEN "zcrawl:{$CRAWL}:q:emulator:8080"); hdepth=${hdepth:-?}
    [[ "$hdepth" =~ ^[0-9]+$ ]] && [ "$hdepth" -gt "$max_hdepth" ] && max_hdepth=$hdepth
    [[ "$depth" =~ ^[0-9]+$ ]] && [ "$depth" -gt "$max_depth" ] && max_depth=$depth
    f=$(stat fetchers); [[ "$f" =~ ^[0-9]+$ ]] && [ "$f" -gt "$max_fetchers" ] && max_fetchers=$f
    [ "$(stat state)" = running ] && seen_running=1
    [ -n "$broker_id" ] && [ "$(health_of "$broker_id")" = healthy ] && broker_healthy=1
    if [ $((el - last_print)) -ge 2 ] && [ -n "${ST[state]:-}" ]; then
        last_print=$el
        printf '  [%3ds] waiting=%s q:emulator:8080=%s  state=%s queued=%s leased=%s in_flight=%s fetchers=%s fetched=%s written=%s per_s=%s\n' \
            "$el" "$depth" "$hdepth" "$(stat state)" "$(stat queued)" "$(stat leased)" "$(stat in_flight)" \
            "$(stat fetchers)" "$(stat fetched)" "$(stat written)" "$(stat fetched_per_s)"
    fi
    # Kill one fetcher (SIGKILL: its jobs are lost in flight) once a quarter of the
    # pages are fetched and every fetcher has said HELLO.
    fe=$(stat fetched); [[ "$fe" =~ ^[0-9]+$ ]] || fe=0
    if [ -z "$killed" ] && [ "$up_done" = 1 ] && [ "$(stat state)" = running ] && [ "$fe" -ge $((PAGES / 4)) ] &&
       [ "${f:-0}" -ge "$FETCHERS" ]; then
        killed=$(cid fetcher | head -n 1)
        docker kill "$killed" >/dev/null 2>&1
        note "killed fetcher ${killed:0:12} at ${el}s (fetched=$fe of $PAGES pages, written=$(stat written), in_flight=$(stat in_flight))"
    fi
    # The status page while the crawl runs: 401 without the password, 200 with it.
    if [ -z "$page" ] && [ "$up_done" = 1 ] && [ "$(stat state)" = running ]; then
        mp=$("${DC[@]}" port broker 9108 2>/dev/null | tail -n 1)
        page="$(code "http://$mp/") $(code -u zcrawl:wrong "http://$mp/metrics") $(code -u "zcrawl:$METRICS_PW" "http://$mp/")"
        page_json=$(timeout 10 curl -s -u "zcrawl:$METRICS_PW" "http://$mp/status.json")
        note "status page on $mp: $page (no password, a wrong one, the password)"
    fi
    bstatus=""; bcode=""
    [ -n "$broker_id" ] && read -r bstatus bcode < <(state_of "$broker_id")
    if [ "$up_done" = 1 ] && { [ "$bstatus" = exited ] || [ "$bstatus" = dead ]; }; then
        broker_exit=$bcode; break
    fi
    if [ "$el" -ge "$CRAWL_TIMEOUT" ]; then
        [ "$up_done" = 1 ] || { kill "$up_pid" 2>/dev/null; fail "${COMPOSE[*]} up did not return"; exit 1; }
        break
    fi
    sleep 1
done
crawl_s=$((SECONDS - t0))
read_stats
printf '  [%3ds] final stats:' "$crawl_s"
for k in state fetched parsed written retried dead gone expired fetchers; do printf ' %s=%s' "$k" "$(stat $k)"; done
echo

v=0; [ "$seen_running" = 1 ] && [ "$max_depth" -gt 0 ] && [ "$max_hdepth" -gt 0 ] && v=1
check "$v" \
    "queue depth read with redis-cli while running (max waiting $max_depth, max LLEN q:emulator:8080 $max_hdepth)" \
    "never saw the crawl running with a non-empty frontier (max waiting $max_depth, max LLEN q:emulator:8080 $max_hdepth)"
v=0; [ "$max_fetchers" -ge "$FETCHERS" ] && v=1
check "$v" "broker saw $max_fetchers fetchers" \
    "broker saw at most $max_fetchers of $FETCHERS fetchers"
check "$broker_healthy" "broker health check reported healthy" \
    "broker health check never reported healthy"
v=0; [ -n "$killed" ] && v=1
check "$v" "one fetcher killed mid-crawl" \
    "no fetcher was killed (crawl ended before fetched >= $((PAGES / 4)) with $FETCHERS fetchers)"
if [ "$broker_exit" = 0 ] && [ "$(stat state)" = "done" ]; then
    pass "crawl done, broker exited 0 ($crawl_s s)"
else
    fail "crawl not done in ${CRAWL_TIMEOUT}s: broker ${bstatus:-?} ${broker_exit:-?}, state=$(stat state)"
fi

# Every other stage got SHUTDOWN: they drain and exit 0 (restart: on-failure leaves them).
ok_stages=1
deadline=$((SECONDS + 40))
for svc in fetcher parser writer; do
    for id in $(cid "$svc"); do
        [ "$id" = "$killed" ] && continue
        while :; do
            read -r s c < <(state_of "$id")
            [ "$s" = exited ] && break
            [ "$SECONDS" -ge "$deadline" ] && break
            sleep 1
        done
        if [ "$s" != exited ] || [ "$c" != 0 ]; then
            ok_stages=0; note "$svc ${id:0:12}: $s exit $c"
        fi
    done
done
check "$ok_stages" "fetchers, parser and writer exited 0 after SHUTDOWN" \
    "not every stage exited 0 after SHUTDOWN"

# ---- the status page, /metrics and Prometheus: a password each -----------------------
v=0; [ "$page" = "401 401 200" ] && [[ "$page_json" == *"\"crawl\":\"$CRAWL\""* ]] && v=1
check "$v" "the status page asked for its password and answered with it" \
    "the status page while running: '$page' (want 401 401 200), status.json ${page_json:0:80}"
prom_port=$("${DC[@]}" port prometheus 9090 2>/dev/null | tail -n 1)
v=0
[ "$(code "http://$prom_port/api/v1/query?query=up")" = 401 ] &&
    [ "$(code -u zcrawl:wrong "http://$prom_port/api/v1/query?query=up")" = 401 ] && v=1
check "$v" "prometheus on $prom_port asks for its password" "prometheus on $prom_port answers without its password"
# Prometheus scraped the broker while it ran (zcrawl_up 1 at some point).
seen=$(timeout 10 curl -s -u "zcrawl:$METRICS_PW" \
    "http://$prom_port/api/v1/query?query=max_over_time(zcrawl_up%5B10m%5D)" 2>/dev/null)
v=0; [[ "$seen" == *'"1"]'* ]] && v=1
check "$v" "prometheus scraped the broker through its password (zcrawl_up 1 seen)" \
    "prometheus never scraped the broker: $seen"

# ---- the documents ----------------------------------------------------------------
mongo_port=$("${DC[@]}" port mongo 27017 2>/dev/null | tail -n 1)
sim_port=$("${DC[@]}" port emulator 8080 2>/dev/null | tail -n 1)
if ! $PY -c 'import pymongo' 2>/dev/null; then
    fail "python3-pymongo is missing (make deps installs it)"
    exit 1
fi
echo "== documents in FerretDB ($mongo_port) vs the emulator's reachable ids ($sim_port)"
if timeout 180 $PY - "$mongo_port" "$sim_port" "$(stat written)" "$(stat gone)" "$MONGO_PW" <<'PYEOF'; then
import collections, json, sys, urllib.request
import pymongo
mongo, sim, written, gone, pw = sys.argv[1:6]
ids = json.load(urllib.request.urlopen("http://%s/__ids" % sim, timeout=30))
want = set(ids["reachable"])
st = json.load(urllib.request.urlopen("http://%s/__stats" % sim, timeout=30))
c = pymongo.MongoClient("mongodb://zcrawl:%s@%s/?authSource=admin" % (pw, mongo),
                        serverSelectionTimeoutMS=10000, socketTimeoutMS=120000)
got = [d["_id"] for d in c["zcrawl"]["books"].find({}, {"_id": 1})]
n = c["zcrawl"]["books"].count_documents({})
c.close()
counts = collections.Counter(got)
dups = [k for k, v in counts.items() if v > 1]
missing = want - set(got)
extra = set(got) - want
print("  .. reachable %d, documents %d (count %d), missing %d, extra %d, duplicates %d; "
      "stats written=%s gone=%s (emulator: %d missing ids); emulator saw %s requests, %s duplicate fetches"
      % (len(want), len(got), n, len(missing), len(extra), len(dups), written, gone,
         len(ids.get("missing", [])), st.get("requests"), st.get("duplicates")))
ok = not missing and not extra and not dups and n == len(want) and len(want) > 0
if missing: print("  .. missing e.g.", sorted(missing)[:5])
if extra: print("  .. extra e.g.", sorted(extra)[:5])
if written.isdigit() and int(written) != len(want):
    print("  .. stats written %s != reachable %d" % (written, len(want))); ok = False
sys.exit(0 if ok else 1)
PYEOF
    pass "one document per reachable book"
else
    fail "documents do not match the reachable books"
fi
