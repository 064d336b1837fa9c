# web.sh - phases 4 and 6 of bench.sh (sourced): a real, unmodified web
# app and nginx serving the static tree, loaded with wrk; then memory.
#
# gunicorn (Debian's), 4 gthread workers of 1 thread each (the gthread
# worker keeps connections alive; the sync worker closes each one), app demo/app.py: plain WSGI, open +
# fstat + wsgi.file_wrapper (sendfile). nginx (Debian's), 4 workers,
# sendfile, with and without open_file_cache. wrk: 2 threads, WEB_CONNS
# keep-alive connections, WEB_SECONDS per run, round robin over every
# css/js/svg/img file (bench/paths.lua), servers interleaved round by round.
# Every server is first checked byte for byte on every path (and that fills
# the tier of the shim servers), then warmed for 2 s.

WEB_SERVERS=
declare -A WEB_URL WEB_INST WEB_PID WEB_ROOTDIR

# register_server NAME PORT INSTNAME DOCROOT: the server just spawned.
register_server() {
    WEB_SERVERS+=" $1"
    WEB_URL[$1]=http://127.0.0.1:$2
    WEB_INST[$1]=$3
    WEB_PID[$1]=$SPAWNED
    WEB_ROOTDIR[$1]=$4
}

# gunicorn_server NAME DOCROOT [INSTNAME]
gunicorn_server() {
    local name=$1 docroot=$2 inst=${3:-} port try
    local -a envv=(env DEMO_ROOT="$docroot")
    [ -n "$inst" ] && envv+=(LD_PRELOAD="$LIB" SHMCACHE_DIR="${INSTS[$inst]}" SHMCACHE_PREFIX="$docroot")
    for try in 1 2 3; do
        port=$(freeport)
        spawn "$RAW/web-$name.log" "${envv[@]}" gunicorn -w 4 -k gthread --threads 1 \
            -b "127.0.0.1:$port" --chdir "$ROOT/demo" --worker-tmp-dir /dev/shm \
            --log-level warning app:app
        came_up "$port" && break
        [ $try = 3 ] && { tail -5 "$RAW/web-$name.log" >&2; die "gunicorn $name did not start"; }
    done
    register_server "$name" "$port" "$inst" "$docroot"
}

# nginx_server NAME DOCROOT OPEN_FILE_CACHE(yes|no) [INSTNAME]
nginx_server() {
    local name=$1 docroot=$2 ofc=$3 inst=${4:-} d=$WORK/nginx-$1 port try
    local -a envv=(env)
    [ -n "$inst" ] && envv+=(LD_PRELOAD="$LIB" SHMCACHE_DIR="${INSTS[$inst]}" SHMCACHE_PREFIX="$docroot")
    mkdir -p "$d/tmp"
    for try in 1 2 3; do
        port=$(freeport)
        cat > "$d/nginx.conf" <<EOF
worker_processes 4;
user root;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    types { text/css css; application/javascript js; image/svg+xml svg; image/png png; }
    default_type application/octet-stream;
$( [ "$ofc" = yes ] && printf '    %s\n' 'open_file_cache max=10000 inactive=60s;' \
    'open_file_cache_valid 60s;' 'open_file_cache_min_uses 1;' 'open_file_cache_errors on;')
    server {
        listen 127.0.0.1:$port;
        root $docroot;
        location / { }
    }
}
EOF
        spawn "$RAW/web-$name.log" "${envv[@]}" nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf"
        came_up "$port" && break
        [ $try = 3 ] && { cat "$d/error.log" >&2; die "nginx $name did not start"; }
    done
    register_server "$name" "$port" "$inst" "$docroot"
}

# workers_mem MASTERPID -> "workers pss_kib rss_kib" summed over its children
workers_mem() {
    local n=0 pss=0 rss=0 w
    for w in $(pgrep -P "$1"); do
        n=$((n + 1))
        pss=$((pss + $(awk '/^Pss:/ {print $2}' "/proc/$w/smaps_rollup")))
        rss=$((rss + $(awk '/^Rss:/ {print $2}' "/proc/$w/smaps_rollup")))
    done
    echo "$n $pss $rss"
}

# The servers of a round: each pair to compare (tmpfs and shim of one
# server kind) back to back, which one first alternating by round.
web_order() {
    local order
    if [ $(($1 % 2)) = 1 ]; then
        order="g_tmpfs g_shim g_raw n_tmpfs n_shim n_raw n_ofc g_raw_2ms g_shim_2ms"
    else
        order="g_shim g_tmpfs g_raw n_shim n_tmpfs n_ofc n_raw g_shim_2ms g_raw_2ms"
    fi
    local s
    for s in $order; do
        [[ " $WEB_SERVERS " == *" $s "* ]] && echo "$s"
    done
}

web_phase() {
    local paths=$RAW/web.paths ws_files ws_bytes
    (cd "$ORIGIN/static" && find css js svg img -type f | sort | sed 's|^|/|') > "$paths"
    ws_files=$(wc -l < "$paths")
    ws_bytes=$(cd "$ORIGIN/static" && sed 's|^/||' "$paths" | xargs stat -c %s | awk '{s += $1} END {print s}')
    local src_static=$SRC/static
    start_shmd web
    INSTS[web]=$INST
    gunicorn_server g_tmpfs "$FLOOR/static"
    gunicorn_server g_raw "$src_static"
    gunicorn_server g_shim "$src_static" web
    if have nginx; then
        nginx_server n_tmpfs "$FLOOR/static" no
        nginx_server n_raw "$src_static" no
        nginx_server n_ofc "$src_static" yes
        nginx_server n_shim "$src_static" no web
    else
        say "SKIPPING the nginx rows: nginx not installed"
    fi
    if [ -n "$M_SSHFS2" ]; then
        start_shmd web2
        INSTS[web2]=$INST
        gunicorn_server g_raw_2ms "$M_SSHFS2/static"
        gunicorn_server g_shim_2ms "$M_SSHFS2/static" web2
    fi
    say "web: servers${WEB_SERVERS} ($(elapsed))"

    local s out
    for s in $WEB_SERVERS; do
        out=$("$PY" "$BENCH/webtool.py" check "${WEB_URL[$s]}" "$ORIGIN/static" "$paths") ||
            die "web server $s serves wrong bytes"
        [ "$out" = "requests=$ws_files bytes=$ws_bytes" ] || die "web server $s: $out"
    done
    # the shim servers' misses filled their tiers: exactly the working set
    local i
    for i in web ${INSTS[web2]:+web2}; do
        wait_entries "${INSTS[$i]}" "$ws_files" ||
            die "tier $i holds $(stat_of "${INSTS[$i]}" entries) of the $ws_files files served"
    done
    for s in $WEB_SERVERS; do
        wrk -t2 -c"$WEB_CONNS" -d2s -s "$BENCH/paths.lua" "${WEB_URL[$s]}" -- "$paths" > /dev/null 2>&1 ||
            die "wrk warm-up of $s failed"
    done
    say "web: all servers serve the origin's bytes; warm ($(elapsed))"

    printf 'round\tserver\trps\tp50_ms\tp99_ms\trequests\tnon2xx\tsocket_errors\n' > "$RAW/web.tsv"
    local r h0 m0 h1 m1 res inst
    for r in $(seq 1 "$WEB_ROUNDS"); do
        for s in $(web_order "$r"); do
            inst=${WEB_INST[$s]}
            if [ -n "$inst" ]; then
                h0=$(stat_of "${INSTS[$inst]}" hits)
                m0=$(stat_of "${INSTS[$inst]}" misses)
            fi
            wrk -t2 -c"$WEB_CONNS" -d"${WEB_SECONDS}s" --latency -s "$BENCH/paths.lua" \
                "${WEB_URL[$s]}" -- "$paths" > "$RAW/wrk-$s-$r.txt" 2>&1 || die "wrk on $s failed"
            res=$("$PY" "$BENCH/webtool.py" parse "$RAW/wrk-$s-$r.txt") || die "wrk on $s: no result"
            read -r rps p50 p99 nreq non2xx serr <<< "$res"
            [ "$non2xx" = 0 ] || die "wrk on $s: $non2xx answers were not 2xx"
            if [ -n "$inst" ]; then
                h1=$(stat_of "${INSTS[$inst]}" hits)
                m1=$(stat_of "${INSTS[$inst]}" misses)
                [ $((h1 - h0)) -ge "$nreq" ] && [ $((m1 - m0)) = 0 ] ||
                    die "web $s: $((h1 - h0)) hits, $((m1 - m0)) misses for $nreq requests: not served from the tier"
            fi
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$s" "$rps" "$p50" "$p99" "$nreq" \
                "$non2xx" "$serr" >> "$RAW/web.tsv"
        done
        say "web round $r/$WEB_ROUNDS done ($(elapsed))"
    done

    # 6. memory: one copy in the tier for all workers; the workers' own PSS
    printf 'what\tvalue\n' > "$RAW/mem.tsv"
    {
        printf 'ws_files\t%s\nws_bytes\t%s\n' "$ws_files" "$ws_bytes"
        for i in web ${INSTS[web2]:+web2}; do
            printf 'tier_%s_entries\t%s\n' "$i" "$(stat_of "${INSTS[$i]}" entries)"
            printf 'tier_%s_bytes\t%s\n' "$i" "$(stat_of "${INSTS[$i]}" bytes)"
            printf 'tier_%s_memory\t%s\n' "$i" "$(stat_of "${INSTS[$i]}" memory)"
            printf 'tier_%s_du_kib\t%s\n' "$i" "$(du -sk "${INSTS[$i]}" | cut -f1)"
        done
        for s in $WEB_SERVERS; do
            [[ $s == g_* ]] || continue
            read -r n pss rss <<< "$(workers_mem "${WEB_PID[$s]}")"
            printf 'workers_%s\t%s\npss_kib_%s\t%s\nrss_kib_%s\t%s\n' "$s" "$n" "$s" "$pss" "$s" "$rss"
        done
    } >> "$RAW/mem.tsv"
    echo "ws_files=$ws_files" >> "$RAW/meta.env"
}
