/**
 * The bootstrap layer, `00-bootstrap.sh`: the first login's one run where cloud-init does not run
 * (Hetzner dedicated servers, owned hosts reached as root). Split from base.ts, whose sshd
 * hardening it shares. Pure.
 */
import { adminUserProblem } from "../cloudinit";
import { APT_SHELL, installTracked, sshdHardeningShell } from "./base";
import { layerScript, shq } from "./script";
import type { HostFile, LayerScript } from "./types";

/** Sudoers drop-in of the admin user (no dot in the name: sudo skips such files in sudoers.d). */
export const ADMIN_SUDOERS = "/etc/sudoers.d/90-gpu-hosting-admin";

/** Key types accepted when copying root's authorized_keys (options such as `command="…"` are dropped). */
const KEY_TYPES = "ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|sk-ssh-ed25519@openssh.com|sk-ecdsa-sha2-nistp256@openssh.com";

/**
 * `00-bootstrap.sh`, run as root where cloud-init does not run (Hetzner dedicated servers, owned
 * hosts reached as root): creates `adminUser` if missing (password locked) with root's
 * authorized keys (each key without its options: a cloud image's `command="echo Please login as…"`
 * would lock the admin out), passwordless sudo through a sudoers drop-in checked with
 * `visudo -cf`, then the sshd hardening drop-in (`sshd -t`, reload). Idempotent.
 *
 * @throws Error naming `adminUser`, the value and the fix when the name is unusable.
 */
export function renderBootstrapLayer(o: { adminUser: string }): LayerScript {
  const problem = adminUserProblem(o.adminUser);
  if (problem) throw new Error(problem);
  const user = o.adminUser;
  const sudoers: HostFile = { layer: "base", name: "90-gpu-hosting-admin", path: ADMIN_SUDOERS, mode: "0440", content: `${user} ALL=(ALL) NOPASSWD:ALL\n` };
  const sshd = sshdHardeningShell("base");
  const body = `${APT_SHELL}
GH_ADMIN=${shq(user)}

# 1. The admin user (password locked: key login only).
if ! getent passwd "$GH_ADMIN" >/dev/null; then
  useradd --create-home --shell /bin/bash --comment 'gpu-hosting admin' "$GH_ADMIN" || fail "useradd $GH_ADMIN failed"
  log "created user $GH_ADMIN"
  GH_CHANGED=1
fi
admin_home="$(getent passwd "$GH_ADMIN" | cut -d: -f6)"
if [ -z "$admin_home" ]; then fail "user $GH_ADMIN has no home directory in the passwd database"; fi

# 2. Root's keys for the admin user, without options; keys it already has stay.
root_keys="$GH_ROOT/root/.ssh/authorized_keys"
if [ ! -s "$root_keys" ]; then
  fail "/root/.ssh/authorized_keys is missing or empty: there is no key to give $GH_ADMIN, and root login is about to be turned off; log in as root with a key (Hetzner: the key chosen at order time) and run again"
fi
keys="$(awk '{ for (i = 1; i < NF; i++) if ($i ~ /^(${KEY_TYPES})$/) { out = $i; for (j = i + 1; j <= NF; j++) out = out " " $j; print out; next } }' "$root_keys")"
if [ -z "$keys" ]; then fail "/root/.ssh/authorized_keys holds no OpenSSH public key (${KEY_TYPES.split("|").join(", ")})" "$root_keys"; fi
ssh_dir="$GH_ROOT$admin_home/.ssh"
mkdir -p "$ssh_dir"
touch "$ssh_dir/authorized_keys"
missing="$(printf '%s\\n' "$keys" | grep -vxF -f "$ssh_dir/authorized_keys" || true)"
if [ -n "$missing" ]; then
  printf '%s\\n' "$missing" >> "$ssh_dir/authorized_keys"
  log "gave $GH_ADMIN $(printf '%s\\n' "$missing" | wc -l | tr -d ' ') key(s) from /root/.ssh/authorized_keys"
  GH_CHANGED=1
fi
chmod 700 "$ssh_dir"
chmod 600 "$ssh_dir/authorized_keys"
chown -R "$GH_ADMIN:" "$ssh_dir"

# 3. Passwordless sudo, checked by visudo before sudo reads it.
if ! command -v visudo >/dev/null 2>&1; then
  apt_get update
  apt_get install sudo
  GH_CHANGED=1
fi
${installTracked([sudoers], "sudoers_changed")}
if [ "$sudoers_changed" = 1 ]; then
  if ! visudo_out="$(visudo -cf "$GH_ROOT${ADMIN_SUDOERS}" 2>&1)"; then
    rm -f "$GH_ROOT${ADMIN_SUDOERS}"
    fail "visudo rejects ${ADMIN_SUDOERS} (removed it again): $visudo_out"
  fi
fi

# 4. sshd hardening, now that $GH_ADMIN can log in with a key.
${sshd.body}`;
  return { ...layerScript("base", "00-bootstrap.sh", [], body), files: [sudoers, ...sshd.files] };
}
