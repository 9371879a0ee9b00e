/**
 * The shared start of the read-only scripts that print marker-separated sections: the host probe
 * (`discover`, core/probe/ssh.ts) and the gpu layer's verification (core/layers/gpuVerify.ts).
 * Pure: renders text.
 */
import { NVIDIA_SMI_QUERY_COMMAND, NVIDIA_SMI_QUERY_FIELDS } from "./parse";

/** nvidia-smi's query without `compute_cap`, which drivers before about 510 do not know. */
const NVIDIA_QUERY_WITHOUT_CC = `nvidia-smi --query-gpu=${NVIDIA_SMI_QUERY_FIELDS.filter((f) => f !== "compute_cap").join(",")} --format=csv,noheader,nounits`;

/**
 * The start of a POSIX sh script (ends with a newline): C locale, a PATH that reaches the GPU tools,
 * the marker `M`, `section <name> <program that must be installed> <command...>` (prints `M begin
 * <name>`, the command's output with stderr merged, then `M end <name> rc=N`, or `M end <name>
 * absent` when the program is missing), and `nvidia_query`, which asks nvidia-smi for `compute_cap`
 * and again without it when the driver refuses the field.
 */
export function sectionScriptPrologue(title: string, marker: string): string {
  return `# ${title}
LC_ALL=C
export LC_ALL
PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/rocm/bin"
export PATH
M='${marker}'

# section <name> <program that must be installed> <command...>
section() {
  name=$1
  program=$2
  shift 2
  printf '%s begin %s\\n' "$M" "$name"
  if command -v "$program" >/dev/null 2>&1; then
    out=$("$@" 2>&1)
    rc=$?
    printf '%s\\n' "$out"
    printf '%s end %s rc=%s\\n' "$M" "$name" "$rc"
  else
    printf '%s end %s absent\\n' "$M" "$name"
  fi
}

# Drivers before about 510 do not know compute_cap: ask again without it.
# shellcheck disable=SC2317 # called through section()
nvidia_query() {
  q=$(${NVIDIA_SMI_QUERY_COMMAND} 2>&1)
  qrc=$?
  case $q in
    *"is not a valid field"*)
      q=$(${NVIDIA_QUERY_WITHOUT_CC} 2>&1)
      qrc=$?
      ;;
  esac
  printf '%s\\n' "$q"
  return "$qrc"
}
`;
}
