# pyimport.sh - phase 5 of bench.sh (sourced): wall time of
#   python3 -c 'import json, email..., http..., asyncio'
# with PYTHONPATH pointing at the package tree (copies of those stdlib
# packages with their __pycache__) on tmpfs, ext4, sshfs, sshfs + shim (warm
# tier) and the same through the 2 ms round trip; plus `python3 -c pass`
# (interpreter start alone) for scale. Each run is a fresh interpreter;
# configurations interleaved round by round, PY_REPS runs each per round.
# A check run first proves every configuration imports the same modules,
# all from its own tree; the shim runs must hit for each of them.

PY_IMPORT='import json, json.tool, email.parser, email.policy, email.message, email.utils, email.mime.multipart, email.mime.text, http.client, http.server, http.cookies, asyncio'
PY_PKGS="json email http asyncio"

py_phase() {
    local -a cfgs=(py_tmpfs py_ext4)
    declare -A base=([py_tmpfs]=$FLOOR/py [py_ext4]=$ORIGIN/py) inst=()
    if [ $HAVE_FUSE = yes ]; then
        cfgs+=(py_sshfs py_shim)
        base[py_sshfs]=$M_SSHFS/py base[py_shim]=$M_SSHFS/py inst[py_shim]=lan
        if [ -n "$M_SSHFS2" ]; then
            cfgs+=(py_sshfs_2ms py_shim_2ms)
            base[py_sshfs_2ms]=$M_SSHFS2/py base[py_shim_2ms]=$M_SSHFS2/py inst[py_shim_2ms]=2ms
        fi
    fi
    cfgs+=(py_startup)
    base[py_startup]=$FLOOR/py

    local c n nmods=
    local -A envs
    for c in "${cfgs[@]}"; do
        envs[$c]="env PYTHONPATH=${base[$c]} PYTHONDONTWRITEBYTECODE=1"
        [ -n "${inst[$c]:-}" ] && envs[$c]+=" $(shim_env "${inst[$c]}" | cut -d' ' -f2-)"
        [ "$c" = py_startup ] && continue
        # shellcheck disable=SC2086
        n=$(${envs[$c]} "$PY" -c "import _frozen_importlib_external as ext
compiled = []
to_code = ext.SourceLoader.source_to_code
ext.SourceLoader.source_to_code = lambda *a, **k: compiled.append(1) or to_code(*a, **k)
$PY_IMPORT
import sys
assert not compiled, 'compiled %d sources: the .pyc files are not used' % len(compiled)
p = sys.argv[1] + '/'
mods = [m for k, m in list(sys.modules.items()) if k.split('.')[0] in sys.argv[2].split()]
assert mods and all(getattr(m, '__file__', '').startswith(p) for m in mods), 'not from ' + p
print(len(mods))" "${base[$c]}" "$PY_PKGS") || die "python import check failed for $c"
        [ -z "$nmods" ] || [ "$n" = "$nmods" ] || die "$c imported $n modules, others $nmods"
        nmods=$n
    done
    echo "py_modules=$nmods" >> "$RAW/meta.env"
    say "python: ${#cfgs[@]} configurations import $nmods modules of the package tree"

    printf 'round\tconfig\trep\tms\n' > "$RAW/py.tsv"
    local r rep t0 t1 h0 m0 h1 m1 code
    for r in $(seq 1 "$PY_ROUNDS"); do
        for c in "${cfgs[@]}"; do
            code=$PY_IMPORT
            [ "$c" = py_startup ] && code=pass
            if [ -n "${inst[$c]:-}" ]; then
                h0=$(stat_of "${INSTS[${inst[$c]}]}" hits)
                m0=$(stat_of "${INSTS[${inst[$c]}]}" misses)
            fi
            for rep in $(seq 1 "$PY_REPS"); do
                t0=$EPOCHREALTIME
                # shellcheck disable=SC2086
                ${envs[$c]} "$PY" -c "$code" || die "python3 failed ($c)"
                t1=$EPOCHREALTIME
                printf '%s\t%s\t%s\t%s\n' "$r" "$c" "$rep" \
                    "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) * 1000}')" >> "$RAW/py.tsv"
            done
            if [ -n "${inst[$c]:-}" ]; then
                h1=$(stat_of "${INSTS[${inst[$c]}]}" hits)
                m1=$(stat_of "${INSTS[${inst[$c]}]}" misses)
                [ $((h1 - h0)) -ge $((nmods * PY_REPS)) ] && [ $((m1 - m0)) = 0 ] ||
                    die "$c: $((h1 - h0)) hits, $((m1 - m0)) misses for $PY_REPS x $nmods imports"
            fi
        done
    done
    say "python done ($(elapsed))"
}
