#!/usr/bin/env bash
# Local Apache Kafka for tests, benchmarks and trying Eddy's kafka:// endpoints.
#
#   scripts/kafka.sh fetch              download the broker's jars once (Maven Central, via mvn) and
#                                       make the brokers' class-data archive (faster starts)
#   scripts/kafka.sh start [N] [DIR]    start N (1 or 3) KRaft brokers on $EDDY_KAFKA_HOST, free ports;
#                                       prints the bootstrap address (host:port,...) on stdout
#   scripts/kafka.sh stop [DIR]         stop the brokers started in DIR and delete DIR
#   scripts/kafka.sh stop-node I [DIR]  stop node I (1-based) of the cluster in DIR, keeping its data
#                                       (SIGTERM: a controlled shutdown; SIGKILL after 30 s)
#   scripts/kafka.sh start-node I [DIR] start node I again on its old ports and data; waits until it serves
#   scripts/kafka.sh topic BOOTSTRAP NAME PARTITIONS
#                                       create a topic (with this repo's kafkajs; for trying Eddy out)
#   scripts/kafka.sh produce BOOTSTRAP TOPIC
#                                       send stdin's lines as records, dealt over the partitions in turn
#
# Each node is a combined broker+controller. With 3 nodes every topic, the consumer offsets and
# the transaction state log have 3 replicas and min.insync.replicas 2, so one node may be down.
# Group sessions may be as short as 1 s (group.min.session.timeout.ms), for tests that move
# partitions quickly (EDDY_KAFKA_SESSION_TIMEOUT_MS). DIR defaults to $EDDY_KAFKA_DIR or
# ${TMPDIR:-/tmp}/eddy-kafka; several clusters can run at once in different DIRs.
# Environment: EDDY_KAFKA_VERSION (default 3.9.1, the version Eddy is tested against: the newest
# line that still serves every old protocol version; kafkajs, Eddy's client, predates Kafka 4,
# which removed some, and Eddy is not tested against 4.x), EDDY_KAFKA_HEAP
# (default -Xms128m -Xmx512m), EDDY_KAFKA_CACHE (default ~/.cache/eddy), EDDY_KAFKA_SASL_USERS
# (user:password[,user:password…]: each node also gets a SASL_PLAINTEXT listener, mechanism PLAIN,
# that accepts those users; its bootstrap address is written to DIR/bootstrap-sasl), EDDY_KAFKA_TLS
# (1: each node also gets an SSL listener that requires a client certificate; a throwaway CA, the
# brokers' certificate and a client certificate are made with openssl and keytool in DIR/tls —
# ca.pem, client.pem, client-key.pem — and the listeners' address is written to DIR/bootstrap-tls),
# EDDY_KAFKA_HOST (default 127.0.0.1: the local address the brokers listen on and advertise; give
# an address of this machine that the clients can reach, e.g. a bridge that network namespaces or
# other machines use), EDDY_KAFKA_CDS (0: start brokers without the class-data archive).
set -euo pipefail

VERSION=${EDDY_KAFKA_VERSION:-3.9.1}
CACHE=${EDDY_KAFKA_CACHE:-$HOME/.cache/eddy}/kafka-$VERSION
HEAP=${EDDY_KAFKA_HEAP:--Xms128m -Xmx512m}
READY_SECONDS=${EDDY_KAFKA_READY_SECONDS:-120}
SASL_USERS=${EDDY_KAFKA_SASL_USERS:-}
HOST=${EDDY_KAFKA_HOST:-127.0.0.1}
TLS=${EDDY_KAFKA_TLS:-}
CDS=${EDDY_KAFKA_CDS:-1}
ARCHIVE=$CACHE/broker.jsa

die() { echo "kafka.sh: $*" >&2; exit 1; }

need() {
  command -v java >/dev/null || die "java is not installed; install a JDK 17+ (Debian: apt-get install openjdk-17-jre-headless)"
}

# The jars, then the class-data archive (below).
fetch() {
  fetch_jars
  make_archive
}

# The broker is the kafka_2.13 artifact and its runtime dependencies, plus a log binding so the
# broker writes a log we can watch for readiness. mvn caches them in ~/.m2.
fetch_jars() {
  need
  [ -f "$CACHE/ok" ] && return 0
  command -v mvn >/dev/null || die "mvn is not installed; install Maven (Debian: apt-get install maven) to fetch Kafka $VERSION"
  mkdir -p "$CACHE"
  local pom="$CACHE/pom.xml"
  cat >"$pom" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>eddy.local</groupId><artifactId>kafka-broker</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
EOF
  echo "kafka.sh: fetching Kafka $VERSION with mvn into $CACHE" >&2
  mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$CACHE/libs" >&2 || die "mvn could not fetch org.apache.kafka:kafka_2.13:$VERSION"
  touch "$CACHE/ok"
}

# N free TCP ports on $HOST (the OS picks them; they are released before the broker binds).
free_ports() {
  node -e '
    const net = require("node:net");
    const n = Number(process.argv[1]); const servers = [];
    (async () => {
      for (let i = 0; i < n; i++) {
        const s = net.createServer(); servers.push(s);
        await new Promise((r, j) => { s.once("error", j); s.listen(0, process.argv[2], r); });
      }
      console.log(servers.map((s) => s.address().port).join(" "));
      servers.forEach((s) => s.close());
    })().catch((e) => { console.error(`cannot listen on ${process.argv[2]}: ${e.message}`); process.exit(1); });' "$1" "$HOST"
}

# Sets JAVA to the java command with the broker's classpath and node dir $1's log settings, and
# the class-data archive when there is one.
java_for() {
  # shellcheck disable=SC2206 # HEAP holds several JVM flags
  JAVA=(java $HEAP -XX:+UseSerialGC "-Dlog4j.configuration=file:$1/log4j.properties" -cp "$CACHE/libs/*")
  [ "$CDS" != 0 ] && [ -f "$ARCHIVE" ] && JAVA+=("-XX:SharedArchiveFile=$ARCHIVE")
  return 0
}

# A class-data-sharing archive (JDK 13+ dynamic CDS) of the classes a broker loads while it
# starts, made once next to the jars by starting and stopping a throwaway broker (the JVM writes
# the archive as it exits). Brokers then map those classes instead of loading and verifying them
# from the jars: on a busy 2-core machine that halved a broker's start (about 24 s to 11 s).
# A JVM that cannot use the archive (another JDK build) says so in stdout.log and starts without
# it; delete the file to make it again. EDDY_KAFKA_CDS=0 starts brokers without it.
make_archive() {
  [ "$CDS" = 0 ] || [ -f "$ARCHIVE" ] && return 0
  local tmp ports pid
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/eddy-kafka-cds.XXXXXX")
  ports=$(free_ports 2) || { rm -rf "$tmp"; return 0; }
  read -r -a ports <<<"$ports"
  write_config "$tmp/node" 1 1 "${ports[0]}" "${ports[1]}" "1@$HOST:${ports[1]}"
  echo "kafka.sh: making the broker's class-data archive (once) in $ARCHIVE" >&2
  java_for "$tmp/node"
  if "${JAVA[@]}" kafka.tools.StorageTool format --cluster-id=eddy-cds-archive0 -c "$tmp/node/server.properties" \
    >"$tmp/format.log" 2>&1; then
    "${JAVA[@]}" "-XX:ArchiveClassesAtExit=$tmp/broker.jsa" kafka.Kafka "$tmp/node/server.properties" \
      </dev/null >"$tmp/stdout.log" 2>&1 &
    pid=$!
    local deadline=$((SECONDS + READY_SECONDS))
    until grep -q "Kafka Server started" "$tmp/node/server.log" 2>/dev/null; do
      kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)) || break
      sleep 0.2
    done
    # A normal exit (SIGTERM) writes the archive; it is moved into place whole, so a broker
    # starting meanwhile sees no archive or a complete one.
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    # Kept only if a JVM maps it (-Xshare:on fails rather than run without it).
    [ -s "$tmp/broker.jsa" ] \
      && java -Xshare:on "-XX:ErrorFile=$tmp/hs_err.log" "-XX:SharedArchiveFile=$tmp/broker.jsa" -cp "$CACHE/libs/*" -version >/dev/null 2>&1 \
      && mv -f "$tmp/broker.jsa" "$ARCHIVE"
  fi
  [ -f "$ARCHIVE" ] || echo "kafka.sh: could not make the class-data archive; brokers start without it" >&2
  rm -rf "$tmp"
  return 0
}

# A throwaway CA in $1 (ca.pem), a certificate for the brokers on $HOST in a PKCS12 keystore,
# a truststore holding the CA (the brokers check client certificates against it), and a client
# certificate and key (client.pem, client-key.pem). Valid for two days; test use only.
make_tls() {
  local t=$1 pass=eddy-test
  command -v openssl >/dev/null || die "EDDY_KAFKA_TLS needs openssl"
  command -v keytool >/dev/null || die "EDDY_KAFKA_TLS needs keytool (from the JDK)"
  mkdir -p "$t"
  (
    cd "$t"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 2 -subj /CN=eddy-test-ca
    for who in broker client; do
      openssl req -newkey rsa:2048 -nodes -keyout "$who-key.pem" -out "$who.csr" -subj "/CN=eddy-test-$who"
      printf 'subjectAltName=IP:%s,DNS:localhost\n' "$HOST" >"$who.ext"
      openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 \
        -extfile "$who.ext" -out "$who.pem"
    done
    openssl pkcs12 -export -in broker.pem -inkey broker-key.pem -certfile ca.pem -out broker.p12 -passout "pass:$pass"
    keytool -importcert -noprompt -alias ca -file ca.pem -keystore trust.p12 -storetype PKCS12 -storepass "$pass"
  ) >"$t/make.log" 2>&1 || die "making the test certificates failed; see $t/make.log"
}

write_config() { # dir node_id n broker_port controller_port voters [sasl_port] [tls_port]
  local dir=$1 id=$2 n=$3 bport=$4 cport=$5 voters=$6 sport=${7:-} tport=${8:-}
  local rf=$(( n >= 3 ? 3 : 1 )) isr=$(( n >= 3 ? 2 : 1 ))
  local listeners="PLAINTEXT://$HOST:$bport" map="PLAINTEXT:PLAINTEXT" sasl=""
  if [ -n "$sport" ]; then
    listeners+=",SASL_PLAINTEXT://$HOST:$sport"
    map+=",SASL_PLAINTEXT:SASL_PLAINTEXT"
    local users="" pair
    IFS=, read -r -a pairs <<<"$SASL_USERS"
    for pair in "${pairs[@]}"; do users+=" user_${pair%%:*}=\"${pair#*:}\""; done
    sasl="sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required$users;"
  fi
  local tls=""
  if [ -n "$tport" ]; then
    listeners+=",SSL://$HOST:$tport"
    map+=",SSL:SSL"
    local t
    t="$(dirname "$dir")/tls"
    tls="ssl.keystore.type=PKCS12
ssl.keystore.location=$t/broker.p12
ssl.keystore.password=eddy-test
ssl.key.password=eddy-test
ssl.truststore.type=PKCS12
ssl.truststore.location=$t/trust.p12
ssl.truststore.password=eddy-test
ssl.client.auth=required"
  fi
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=$listeners,CONTROLLER://$HOST:$cport
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$map,CONTROLLER:PLAINTEXT
$sasl
$tls
log.dirs=$dir/data
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=6
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.flush.interval.messages=9223372036854775807
EOF
  cat >"$dir/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$dir/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
}

start() {
  local n=${1:-1} dir=${2:-${EDDY_KAFKA_DIR:-${TMPDIR:-/tmp}/eddy-kafka}}
  [ "$n" = 1 ] || [ "$n" = 3 ] || die "start takes 1 or 3 brokers, not '$n'"
  [ -e "$dir/bootstrap" ] && die "brokers are already running in $dir; run 'scripts/kafka.sh stop $dir' first"
  fetch
  mkdir -p "$dir"
  # Per node: broker port, controller port, then a SASL listener port (with SASL users) and an SSL
  # listener port (with TLS): node i's ports are ports[per*(i-1) ...].
  local has_sasl=$(( ${#SASL_USERS} > 0 ? 1 : 0 )) has_tls=$(( ${#TLS} > 0 ? 1 : 0 ))
  local per=$((2 + has_sasl + has_tls))
  local free
  free=$(free_ports $((per * n))) || die "no free ports on $HOST (EDDY_KAFKA_HOST must be an address of this machine)"
  read -r -a ports <<<"$free"
  ((has_tls)) && make_tls "$dir/tls"
  local voters="" bootstrap="" sasl_bootstrap="" tls_bootstrap="" i
  for ((i = 1; i <= n; i++)); do
    local base=$((per * (i - 1)))
    voters+="${voters:+,}$i@$HOST:${ports[$((base + 1))]}"
    bootstrap+="${bootstrap:+,}$HOST:${ports[$base]}"
    ((has_sasl)) && sasl_bootstrap+="${sasl_bootstrap:+,}$HOST:${ports[$((base + 2))]}"
    ((has_tls)) && tls_bootstrap+="${tls_bootstrap:+,}$HOST:${ports[$((base + 2 + has_sasl))]}"
  done
  local cluster
  # As --cluster-id=…: a random id may start with "-".
  cluster=$(node -e 'console.log(require("node:crypto").randomBytes(16).toString("base64url"))')
  for ((i = 1; i <= n; i++)); do
    local nd="$dir/node$i"
    local base=$((per * (i - 1)))
    write_config "$nd" "$i" "$n" "${ports[$base]}" "${ports[$((base + 1))]}" "$voters" \
      "$( ((has_sasl)) && echo "${ports[$((base + 2))]}")" "$( ((has_tls)) && echo "${ports[$((base + 2 + has_sasl))]}")"
    java_for "$nd"
    "${JAVA[@]}" kafka.tools.StorageTool format "--cluster-id=$cluster" -c "$nd/server.properties" >"$nd/format.log" 2>&1 \
      || die "formatting storage for node $i failed; see $nd/format.log (if the JVM crashed, delete $ARCHIVE)"
    nohup "${JAVA[@]}" kafka.Kafka "$nd/server.properties" </dev/null >"$nd/stdout.log" 2>&1 &
    echo $! >"$nd/pid"
  done
  echo "$bootstrap" >"$dir/bootstrap"
  [ -n "$sasl_bootstrap" ] && echo "$sasl_bootstrap" >"$dir/bootstrap-sasl"
  [ -n "$tls_bootstrap" ] && echo "$tls_bootstrap" >"$dir/bootstrap-tls"
  # Ready when every node logged that its server started (the broker is unfenced by then).
  local deadline=$((SECONDS + READY_SECONDS))
  for ((i = 1; i <= n; i++)); do
    local nd="$dir/node$i"
    until grep -q "Kafka Server started" "$nd/server.log" 2>/dev/null; do
      kill -0 "$(cat "$nd/pid")" 2>/dev/null || { stop "$dir"; die "broker $i exited while starting; see $nd/stdout.log"; }
      ((SECONDS < deadline)) || { stop "$dir"; die "broker $i did not start within ${READY_SECONDS}s"; }
      sleep 0.2
    done
  done
  echo "$bootstrap"
}

node_dir() { # I DIR: the node's directory, checked
  local i=$1 dir=${2:-${EDDY_KAFKA_DIR:-${TMPDIR:-/tmp}/eddy-kafka}}
  [[ "$i" =~ ^[1-9][0-9]*$ ]] || die "node number '$i' is not a positive integer"
  [ -f "$dir/node$i/server.properties" ] || die "no node $i in $dir"
  echo "$dir/node$i"
}

stop_node() {
  local nd pid
  nd=$(node_dir "$@")
  [ -f "$nd/pid" ] || die "node $1 is not running"
  pid=$(cat "$nd/pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$nd/pid"
}

start_node() {
  local nd started
  nd=$(node_dir "$@")
  [ -f "$nd/pid" ] && die "node $1 is running already"
  # Ready when the log says the server started once more than it said so before.
  started=$(grep -c "Kafka Server started" "$nd/server.log" 2>/dev/null || true)
  java_for "$nd"
  nohup "${JAVA[@]}" kafka.Kafka "$nd/server.properties" </dev/null >>"$nd/stdout.log" 2>&1 &
  echo $! >"$nd/pid"
  local deadline=$((SECONDS + READY_SECONDS))
  until (( $(grep -c "Kafka Server started" "$nd/server.log" 2>/dev/null || true) > started )); do
    kill -0 "$(cat "$nd/pid")" 2>/dev/null || { rm -f "$nd/pid"; die "node $1 exited while starting; see $nd/stdout.log"; }
    ((SECONDS < deadline)) || die "node $1 did not start within ${READY_SECONDS}s"
    sleep 0.2
  done
}

stop() {
  local dir=${1:-${EDDY_KAFKA_DIR:-${TMPDIR:-/tmp}/eddy-kafka}} pidfile pid
  [ -d "$dir" ] || return 0
  # SIGKILL: the data is deleted next, so a controlled shutdown would only cost time (up to 10 s
  # when the last node of three waits for a controller quorum that has gone).
  for pidfile in "$dir"/node*/pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill -9 "$pid" 2>/dev/null || true
  done
  for pidfile in "$dir"/node*/pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  rm -rf "$dir"
}

# Creates topic $2 with $3 partitions on cluster $1, waiting for the partitions' leaders.
topic() {
  local bootstrap=${1:?topic needs BOOTSTRAP NAME PARTITIONS} name=${2:?topic needs a NAME} n=${3:-1}
  (cd "$(dirname "$(readlink -f "$0")")/.." && node --input-type=module -e '
    import { Kafka, logLevel } from "kafkajs";
    const [brokers, topic, n] = process.argv.slice(1);
    const admin = new Kafka({ brokers: brokers.split(","), logLevel: logLevel.NOTHING }).admin();
    try {
      await admin.connect();
      const made = await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: Number(n) }] });
      console.log(made ? `created ${topic} with ${n} partitions` : `${topic} exists already`);
    } catch (e) {
      console.error(`kafka.sh: creating ${topic} on ${brokers} failed: ${e.message}`);
      process.exitCode = 1;
    } finally {
      await admin.disconnect();
    }' "$bootstrap" "$name" "$n")
}

# Sends stdin's lines to topic $2 of cluster $1, dealt over its partitions in turn (line i to
# partition i mod N), so every partition gets its share.
produce() {
  local bootstrap=${1:?produce needs BOOTSTRAP TOPIC} name=${2:?produce needs a TOPIC}
  (cd "$(dirname "$(readlink -f "$0")")/.." && node --input-type=module -e '
    import { createInterface } from "node:readline";
    import { Kafka, logLevel } from "kafkajs";
    const [brokers, topic] = process.argv.slice(1);
    const kafka = new Kafka({ brokers: brokers.split(","), logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    const producer = kafka.producer();
    try {
      await admin.connect();
      const n = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0].partitions.length;
      await producer.connect();
      let batch = [];
      let sent = 0;
      for await (const value of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
        batch.push({ value, partition: sent++ % n });
        if (batch.length === 5000) await producer.send({ topic, messages: batch.splice(0), acks: -1 });
      }
      if (batch.length) await producer.send({ topic, messages: batch, acks: -1 });
      console.log(`sent ${sent} records to ${topic} (${n} partitions)`);
    } catch (e) {
      console.error(`kafka.sh: producing to ${topic} on ${brokers} failed: ${e.message}`);
      process.exitCode = 1;
    } finally {
      await Promise.all([admin.disconnect(), producer.disconnect()]);
    }' "$bootstrap" "$name")
}

case "${1:-}" in
  fetch) fetch ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  stop-node) shift; stop_node "$@" ;;
  start-node) shift; start_node "$@" ;;
  topic) shift; topic "$@" ;;
  produce) shift; produce "$@" ;;
  *) echo "usage: scripts/kafka.sh fetch | start [1|3] [DIR] | stop [DIR] | stop-node I [DIR] | start-node I [DIR] | topic BOOTSTRAP NAME PARTITIONS | produce BOOTSTRAP TOPIC" >&2; exit 2 ;;
esac
