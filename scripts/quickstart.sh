#!/usr/bin/env bash
# The whole job on a fresh Debian/Ubuntu machine, CPU only. First (a minute after the install): real
# speech upsampled with the bundled nuwave2-small-2step, from 8 kHz copies of held-out clips (phone
# quality) to 48 kHz, and those clips scored against their originals with spectrograms to look at.
# Then, with TRAIN=1, the optional second half: train configs/nuwave2_small.py for a few minutes
# (STEPS=..., 1500 for the half-hour recipe) and score it the same way.
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=3
python3 -m venv .venv
.venv/bin/pip install -q -r requirements.txt -e .
scripts/fetch_speech.sh data/speech
out=runs/quickstart
# Three held-out clips (speakers no model here has heard) as 8 kHz recordings, as a phone gives them.
.venv/bin/python - "$out/phone_8k" <<'EOF'
import pathlib, sys
import soundfile
from nuwave_jax.data import audio as audio_io
folder = pathlib.Path(sys.argv[1])
folder.mkdir(parents=True, exist_ok=True)
for path in audio_io.find_audio_files('data/speech/eval')[:3]:
  soundfile.write(folder / (path.stem + '.wav'), audio_io.read_audio(path, 8000), 8000)
EOF
.venv/bin/nuwave-jax upsample "$out/phone_8k" --output "$out/upsampled"
# The same clips from their 44.1 kHz originals: simulated 8 and 16 kHz inputs, upsampled, scored
# against the originals beside the inputs, with spectrograms (ground truth, input, output).
.venv/bin/nuwave-jax evaluate --checkpoint nuwave2-small-2step --data data/speech/eval --limit 3 --runs 1 \
    --rates 8000 16000 --plots 3 --output "$out/report"
echo "listen: $out/upsampled/   look: $out/report/spectrograms/*.png"
if [ "${TRAIN:-0}" = 1 ]; then
  .venv/bin/nuwave-jax train --config configs/nuwave2_small.py --workdir "$out/train" \
      --config.data.dir=data/speech --config.train.num_steps="${STEPS:-300}"
  .venv/bin/nuwave-jax evaluate --checkpoint "$out/train" --data data/speech/eval --limit 3 --runs 1 \
      --rates 8000 16000 --plots 3 --output "$out/train/report"
  echo "your model: $out/train (nuwave-jax upsample --checkpoint $out/train ...)"
fi
