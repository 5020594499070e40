#!/usr/bin/env bash
# The whole job on a fresh Debian/Ubuntu machine, CPU only, in about 15 minutes: install into .venv,
# fetch real speech, train configs/small.py for a few minutes, upsample a held-out clip, and write
# spectrograms (ground truth, input, output) to look at. STEPS=... trains longer.
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=3
python3 -m venv .venv
.venv/bin/pip install -q -r requirements.txt -e .
scripts/fetch_speech.sh data/speech
.venv/bin/python train.py --config configs/small.py --workdir runs/quickstart \
    --config.data.dir=data/speech --config.train.num_steps="${STEPS:-2000}"
clips=(data/speech/eval/*.ogg)
clip=${clips[0]}
# The 44.1 kHz clip as a real low-rate input (resampled to 16 kHz, configs/small.py's input rate, then upsampled) ...
.venv/bin/python sample.py --checkpoint runs/quickstart --resample "$clip" --output runs/quickstart/upsampled
# ... and three eval clips as ground truth, scored against linear interpolation, with spectrograms.
.venv/bin/python evaluate.py --checkpoint runs/quickstart --data data/speech/eval --limit 3 --runs 1 \
    --plots 3 --output runs/quickstart/report
echo "listen: runs/quickstart/upsampled/   look: runs/quickstart/report/spectrograms/*.png"
