#!/usr/bin/env bash
# Reproduces the shipped medium behaviour policies (coopo/data/policies/<task>-medium.npz):
# coopo's SAC, stopped at the first 5-episode evaluation reaching a third of D4RL's expert
# reference score (REF_MAX / 3). Two queues run in parallel on a 2-core machine.
set -euo pipefail
out=${1:-behaviour-runs}
train() { coopo data train-behaviour --env-id "$1" --target-return "$2" --out "$out/$3" --max-steps "$4" ${5:+--env-kwargs "$5"}; }
( train HalfCheetah-v5 4045.0 halfcheetah 400000 && train Hopper-v5 1078.1 hopper 300000 ) &
( train Ant-v5 1293.2 ant 600000 '{"include_cfrc_ext_in_observation": false}' && train Walker2d-v5 1530.8 walker2d 500000 ) &
wait
