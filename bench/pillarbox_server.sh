# Start and stop `pillarbox serve` for the bench drivers (sourced by run_imap_pop3.sh, run_imap_logins.sh).
# Needs PILLARBOX, PB_CONF (its data_dir line is where `workers` goes), PB_WORKERS and BASE; sets PB_PID.
# PB_WORKERS empty: no `workers` line, the configuration's default (one process per CPU, at most 8).

pb_start() {
    sed -i '/^workers = /d' "$PB_CONF"
    if [ -n "$PB_WORKERS" ]; then sed -i 's|^data_dir = .*|&\nworkers = '"$PB_WORKERS"'|' "$PB_CONF"; fi
    : >"$BASE/pillarbox/serve.log"  # now, not in the background job: the last run's "ready" must not count
    "$PILLARBOX" --config "$PB_CONF" serve >>"$BASE/pillarbox/serve.log" 2>&1 &
    PB_PID=$!
    local ready='msg="ready"' processes=${PB_WORKERS:-$(( $(nproc) < 8 ? $(nproc) : 8 ))}
    if [ "$processes" -gt 1 ]; then ready="msg=\"worker ready\" worker=$((processes - 1))"; fi
    for _ in $(seq 300); do
        grep -q "$ready" "$BASE/pillarbox/serve.log" && return
        sleep 0.1
    done
    echo "pillarbox did not start" >&2; exit 1
}

pb_stop() {
    [ -n "$PB_PID" ] || return 0
    kill -TERM "$PB_PID" 2>/dev/null || true
    wait "$PB_PID" 2>/dev/null || true
    PB_PID=
}
