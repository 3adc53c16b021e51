#!/usr/bin/env bash
# test-swarm.sh -- the stack on Docker Swarm end to end (make test-swarm): a one-node
# swarm when none is active (left again at the end: the machine as it was found),
# the offline images, `docker stack deploy` of deploy/docker-stack.yml with the CURVE
# keys and passwords as Docker secrets, a crawl of the emulator with one fetcher,
# scaled to three with `docker service scale` mid-crawl; every reachable book must be
# stored exactly once and fetched once. Everything the test made (stack, volumes,
# network, secrets, configs, the swarm itself when it made it) is removed, also on
# failure or Ctrl-C. Ends with one line "swarm: N passed, N failed".
#
# Environment: SWARM_TEST_BOOKS (1000), SWARM_TEST_LATENCY_MS (400: about a minute's
# crawl, so that the fetchers scaled in, which take some 15 s to start here, join it),
# SWARM_TEST_TIMEOUT (300 s for the crawl), SWARM_TEST_KEEP=1 leaves it all up.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
PY=/usr/bin/python3

BOOKS=${SWARM_TEST_BOOKS:-1000}
LATENCY=${SWARM_TEST_LATENCY_MS:-400}
CRAWL_TIMEOUT=${SWARM_TEST_TIMEOUT:-300}
KEEP=${SWARM_TEST_KEEP:-0}
CRAWL=swarmtest
PAGES=$((BOOKS + (BOOKS + 17) / 18))
STACK=zcswarm$$
SCALE_TO=3

. scripts/checks.sh
note() { echo "  .. $*"; }

for v in $(compgen -e); do
    case "$v" in ZCRAWL_*|SITESIM_*|REDIS_*|MONGO_*|PROMETHEUS_*) unset "$v" ;; esac
done

if ! command -v docker >/dev/null 2>&1 || ! timeout 20 docker info >/dev/null 2>&1; then
    echo "SKIP: no Docker engine answers"
    echo "swarm: 0 passed, 0 failed, 1 skipped"
    exit 0
fi

tmp=$(mktemp -d /tmp/zcrawl-swarm-test.XXXXXX)
inited=0
# swarm init makes the bridge docker_gwbridge, which leaving keeps: it goes too if it was not here.
gwbridge_before=$(docker network ls -q --filter name='^docker_gwbridge$')
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$failed" -gt 0 ] || [ "$rc" -ne 0 ]; then
        echo "== logs (last 25 lines per service)"
        for s in broker fetcher parser writer redis mongo emulator; do
            echo "---- $s"; timeout 30 docker service logs --no-task-ids --tail 25 "${STACK}_$s" 2>&1 | tail -n 25
        done
    fi
    if [ "$KEEP" = 1 ]; then
        echo "== SWARM_TEST_KEEP=1: left up; remove with: docker stack rm $STACK; docker volume rm" \
             "\$(docker volume ls -q --filter label=com.docker.stack.namespace=$STACK)" \
             "$([ $inited = 1 ] && echo '; docker swarm leave --force')"
    else
        echo "== teardown"
        timeout 60 docker stack rm "$STACK" >/dev/null 2>&1
        # Tasks stop, then the network goes; volumes stay until their containers are gone.
        for _ in $(seq 60); do
            [ -z "$(docker ps -aq --filter "label=com.docker.stack.namespace=$STACK")" ] &&
                [ -z "$(docker network ls -q --filter "label=com.docker.stack.namespace=$STACK")" ] && break
            sleep 1
        done
        vols=$(docker volume ls -q --filter "label=com.docker.stack.namespace=$STACK")
        [ -n "$vols" ] && docker volume rm $vols >/dev/null 2>&1
        left="containers:$(docker ps -aq --filter "label=com.docker.stack.namespace=$STACK" | wc -l)"
        left+=" networks:$(docker network ls -q --filter "label=com.docker.stack.namespace=$STACK" | wc -l)"
        left+=" volumes:$(docker volume ls -q --filter "label=com.docker.stack.namespace=$STACK" | wc -l)"
        if [ "$(docker info -f '{{.Swarm.LocalNodeState}}' 2>/dev/null)" = active ]; then
            left+=" secrets:$(docker secret ls -q --filter "label=com.docker.stack.namespace=$STACK" | wc -l)"
            left+=" configs:$(docker config ls -q --filter "label=com.docker.stack.namespace=$STACK" | wc -l)"
        fi
        if [[ "$left" =~ ^(containers|networks|volumes|secrets|configs):0( (containers|networks|volumes|secrets|configs):0)*$ ]]; then
            pass "stack $STACK removed: $left"
        else
            fail "stack $STACK not removed: $left"
        fi
        if [ "$inited" = 1 ]; then
            docker swarm leave --force >/dev/null 2>&1
            [ -z "$gwbridge_before" ] && docker network rm docker_gwbridge >/dev/null 2>&1
            st=$(docker info -f '{{.Swarm.LocalNodeState}}' 2>/dev/null)
            v=0; [ "$st" = inactive ] && v=1
            [ -z "$gwbridge_before" ] && [ -n "$(docker network ls -q --filter name='^docker_gwbridge$')" ] && v=0
            check "$v" "left the one-node swarm this test made (swarm $st again, no docker_gwbridge left)" \
                "swarm is $st after leaving, or docker_gwbridge is left"
        fi
        rm -rf "$tmp"
    fi
    checks_finish swarm "$rc"
}
trap cleanup EXIT
trap 'echo "interrupted"; failed=$((failed + 1)); exit 130' INT TERM

# ---- the swarm ---------------------------------------------------------------------
state=$(docker info -f '{{.Swarm.LocalNodeState}}')
case "$state" in
    inactive)
        echo "== docker swarm init (one node, on loopback; left at the end)"
        if docker swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:2377 >"$tmp/init.log" 2>&1; then
            inited=1; pass "one-node swarm initialised"
        else
            cat "$tmp/init.log"; fail "docker swarm init"; exit 1
        fi ;;
    active)
        [ "$(docker info -f '{{.Swarm.ControlAvailable}}')" = true ] ||
            { fail "this node is in a swarm but not a manager: run the test on a manager"; exit 1; }
        note "a swarm is active: using it (it stays)" ;;
    *) fail "swarm state '$state'"; exit 1 ;;
esac

# ---- images --------------------------------------------------------------------------
echo "== images"
t0=$SECONDS
scripts/build-base-image.sh >"$tmp/base.log" 2>&1 || { tail -5 "$tmp/base.log"; fail "base images"; exit 1; }
[ -x .tools/bin/ferretdb ] || { fail ".tools/bin/ferretdb is missing (make deps installs it)"; exit 1; }
if docker-compose -f deploy/docker-compose.yml -f deploy/docker-compose.offline.yml build redis mongo broker prometheus \
        >"$tmp/build.log" 2>&1 &&
   docker build -q -t zcrawl-pytools:local -f tests/docker/pytools.Dockerfile tests/docker >>"$tmp/build.log" 2>&1; then
    pass "images zcrawl, redis, ferretdb, prometheus and the test's pytools built ($((SECONDS - t0)) s)"
else
    tail -n 30 "$tmp/build.log"; fail "image build"; exit 1
fi

# ---- deploy -------------------------------------------------------------------------
bin/zcrawl keygen "$tmp/keys" >/dev/null || { fail "zcrawl keygen"; exit 1; }
REDIS_PW=$(cat "$tmp/keys/redis.password") MONGO_PW=$(cat "$tmp/keys/mongo.password")
METRICS_PW=$(cat "$tmp/keys/metrics.password")
# The test's own part: the emulator as the target, on the stack's private network.
cat >"$tmp/test-stack.yml" <<EOF
version: "3.8"
services:
  emulator:
    image: zcrawl:local
    command: ["sitesim"]
    networks: [zcrawl]
    environment:
      ZCRAWL_SITESIM_BIND: 0.0.0.0
      ZCRAWL_SITESIM_PORT: "8080"
      ZCRAWL_SITESIM_BOOKS: "$BOOKS"
      ZCRAWL_SITESIM_SEED: "11"
      ZCRAWL_SITESIM_LATENCY_MS: "$LATENCY"
      ZCRAWL_SITESIM_JITTER_MS: "$((LATENCY / 4))"
    deploy: {replicas: 1, endpoint_mode: dnsrr, restart_policy: {condition: any}}
EOF
export ZCRAWL_KEYS_DIR=$tmp/keys ZCRAWL_CRAWL=$CRAWL ZCRAWL_FETCHERS=1 ZCRAWL_ALLOW_PRIVATE=1
export ZCRAWL_START_URL='http://emulator:8080/api/book/?limit=18&offset=0' ZCRAWL_BATCH=100 ZCRAWL_CONCURRENCY=16
echo "== docker stack deploy $STACK (1 fetcher, $BOOKS books at ${LATENCY} ms)"
t0=$SECONDS
if timeout 120 docker stack deploy --resolve-image never -c deploy/docker-stack.yml -c "$tmp/test-stack.yml" \
        "$STACK" >"$tmp/deploy.log" 2>&1; then
    pass "docker stack deploy ($((SECONDS - t0)) s)"
else
    cat "$tmp/deploy.log"; fail "docker stack deploy"; exit 1
fi
nsec=$(docker secret ls -q --filter "label=com.docker.stack.namespace=$STACK" | wc -l)
v=0; [ "$nsec" = 7 ] && v=1
check "$v" "7 Docker secrets (4 CURVE secret keys, 3 passwords)" "$nsec secrets in the stack, want 7"

# A container on the stack's network for what the host cannot reach (nothing is published).
net=${STACK}_zcrawl
onnet() { timeout 60 docker run --rm -i --network "$net" -e MONGO_PW="$MONGO_PW" -e METRICS_PW="$METRICS_PW" \
    zcrawl-pytools:local "$@"; }
task() { docker ps -q --filter "label=com.docker.swarm.service.name=${STACK}_$1" | head -n 1; }
rcli() {
    local id; id=$(task redis)
    [ -n "$id" ] && timeout 10 docker exec -e REDISCLI_AUTH="$REDIS_PW" "$id" redis-cli --raw "$@" 2>/dev/null
}
declare -A ST
read_stats() {
    ST=(); local k v
    while IFS= read -r k && IFS= read -r v; do ST[$k]=$v; done < <(rcli HGETALL "zcrawl:{$CRAWL}:stats")
}
stat() { echo "${ST[$1]:-}"; }
broker_exits() {   # the exit codes of the broker's tasks that ended (a failed one is restarted)
    docker ps -a --filter "label=com.docker.swarm.service.name=${STACK}_broker" --filter status=exited \
        --format '{{.ID}}' | xargs -r docker inspect -f '{{.State.ExitCode}}' 2>/dev/null | sort | tr '\n' ' '
}

# ---- the crawl ----------------------------------------------------------------------
t0=$SECONDS; scaled=""; max_fetchers=0; page=""; page_tries=0; last=-10; bexit=""
while :; do
    el=$((SECONDS - t0))
    read_stats
    f=$(stat fetchers); [[ "$f" =~ ^[0-9]+$ ]] && [ "$f" -gt "$max_fetchers" ] && max_fetchers=$f
    fe=$(stat fetched); [[ "$fe" =~ ^[0-9]+$ ]] || fe=0
    if [ $((el - last)) -ge 3 ] && [ -n "$(stat state)" ]; then
        last=$el
        printf '  [%3ds] state=%s fetchers=%s fetched=%s written=%s waiting=%s per_s=%s\n' "$el" "$(stat state)" \
            "$f" "$fe" "$(stat written)" "$(rcli GET "zcrawl:{$CRAWL}:waiting")" "$(stat fetched_per_s)"
    fi
    if [ -z "$scaled" ] && [ "$(stat state)" = running ] && [ "$fe" -ge $((PAGES / 10)) ]; then
        if timeout 60 docker service scale -d "${STACK}_fetcher=$SCALE_TO" >/dev/null 2>&1; then
            scaled=$el; note "docker service scale ${STACK}_fetcher=$SCALE_TO at ${el}s (fetched $fe of $PAGES)"
        else
            scaled=failed
        fi
    fi
    if [ -z "$page" ] && [ "$(stat state)" = running ]; then
        page=$(onnet python3 - <<'PYEOF'
import base64, os, urllib.request, urllib.error
def get(path, pw=None):
    r = urllib.request.Request("http://broker:9108" + path)
    if pw: r.add_header("Authorization", "Basic " + base64.b64encode(("zcrawl:" + pw).encode()).decode())
    try:
        with urllib.request.urlopen(r, timeout=10) as resp: return str(resp.status)
    except urllib.error.HTTPError as e: return str(e.code)
    except OSError as e: return "no-answer(%s)" % str(e).replace(" ", "_")
print(get("/"), get("/metrics", "wrong"), get("/", os.environ["METRICS_PW"]))
PYEOF
)
        note "status page inside the stack: $page (no password, a wrong one, the password)"
        # A broker task that was just replaced may not answer yet: ask again, a few times.
        [[ "$page" == *no-answer* ]] && [ $((page_tries += 1)) -lt 5 ] && page=""
    fi
    bexit=$(broker_exits)
    [[ " $bexit" == *" 0 "* ]] && break
    [ "$el" -ge "$CRAWL_TIMEOUT" ] && break
    sleep 1
done
crawl_s=$((SECONDS - t0))
read_stats
note "final stats after ${crawl_s}s: state=$(stat state) fetched=$(stat fetched) written=$(stat written) dead=$(stat dead) gone=$(stat gone)"
v=0; [ -n "$scaled" ] && [ "$scaled" != failed ] && v=1
check "$v" "fetchers scaled to $SCALE_TO with docker service scale mid-crawl (at ${scaled}s)" \
    "no scale mid-crawl ($scaled)"
v=0; [ "$max_fetchers" -ge "$SCALE_TO" ] && v=1
check "$v" "the broker saw $max_fetchers fetchers" "the broker saw at most $max_fetchers of $SCALE_TO fetchers"
v=0; [ "$page" = "401 401 200" ] && v=1
check "$v" "the status page asked for its password inside the stack too" "the status page answered '$page'"
v=0; [[ " $bexit" == *" 0 "* ]] && [ "$(stat state)" = done ] && v=1
check "$v" "crawl done, broker task exited 0 ($crawl_s s; broker tasks' exits: $bexit)" \
    "crawl not done in ${CRAWL_TIMEOUT}s: broker tasks' exits '${bexit}', state=$(stat state)"

# ---- the documents ---------------------------------------------------------------------
echo "== documents in FerretDB vs the emulator's reachable ids (from inside the stack)"
if onnet python3 - "$(stat written)" <<'PYEOF'; then
import collections, json, os, sys, urllib.request
import pymongo
written = sys.argv[1]
ids = json.load(urllib.request.urlopen("http://emulator:8080/__ids", timeout=30))
st = json.load(urllib.request.urlopen("http://emulator:8080/__stats", timeout=30))
want = set(ids["reachable"])
c = pymongo.MongoClient("mongodb://zcrawl:%s@mongo:27017/?authSource=admin" % os.environ["MONGO_PW"],
                        serverSelectionTimeoutMS=10000, socketTimeoutMS=120000)
got = [d["_id"] for d in c["zcrawl"]["books"].find({}, {"_id": 1})]
counts = collections.Counter(got)
dups = [k for k, v in counts.items() if v > 1]
print("  .. reachable %d, documents %d, missing %d, extra %d, duplicates %d; written=%s; emulator: %s requests, "
      "%s duplicate fetches" % (len(want), len(got), len(want - set(got)), len(set(got) - want), len(dups), written,
                                st.get("requests"), st.get("duplicates")))
ok = want and set(got) == want and not dups and written == str(len(want)) and st.get("duplicates") == 0
sys.exit(0 if ok else 1)
PYEOF
    pass "every reachable book stored exactly once, fetched once"
else
    fail "documents do not match the reachable books"
fi
