"""Prepare the guest kernel: Debian's stock ``linux-image-amd64`` unpacked into the cache.

The folder ``cache_dir('kernel', '<package>_<version>')`` holds:

- ``root/``          the unpacked package (``root/boot/vmlinuz-KVER``, ``root/lib/modules/KVER`` with depmod run)
- ``vmlinux``        the uncompressed ELF kernel, booted by QEMU's PVH loader (much faster than the bzImage under TCG)
- ``busybox``        a copy of the static busybox, the guest init's shell after ``switch_root``
- ``initramfs.cpio`` busybox + the virtio/9p modules + ``/init`` (``initramfs-init.sh``)
- ``manifest.json``  written last; its presence means the folder is complete

Everything is idempotent: a prepared folder is reused, and the apt resolution is remembered until the apt lists change.
"""

import bz2
import fcntl
import gzip
import hashlib
import json
import lzma
import os
import shutil
import struct
import subprocess
import tempfile
import zlib

from testbeds.common import cache_dir, progress

META_PACKAGE = 'linux-image-amd64'
HERE = os.path.dirname(os.path.abspath(__file__))
INITRAMFS_INIT = os.path.join(HERE, 'initramfs-init.sh')
APT_LISTS = '/var/lib/apt/lists'
BUSYBOX_CANDIDATES = ('/bin/busybox', '/usr/bin/busybox', '/usr/lib/initramfs-tools/bin/busybox')

# Modules the initramfs loads (with their dependencies) to mount the host root over virtio-9p under an overlay.
INITRAMFS_MODULES = ('virtio_pci', '9pnet_virtio', '9p', 'overlay')
INITRAMFS_APPLETS = ('sh', 'mount', 'insmod', 'mkdir', 'poweroff', 'switch_root', 'echo', 'cat', 'sleep')
# Bump when the layout of a prepared folder changes, so old folders get rebuilt.
LAYOUT = 1


class PrepareError(RuntimeError):
    """The kernel could not be prepared (no apt, download failure, unexpected package layout...)."""


def _run(argv, timeout, **kwargs):
    try:
        return subprocess.run(argv, check=True, timeout=timeout, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, **kwargs)
    except FileNotFoundError as exc:
        raise PrepareError('%s is not installed' % argv[0]) from exc
    except subprocess.CalledProcessError as exc:
        raise PrepareError('%s failed (exit %d): %s' % (' '.join(argv), exc.returncode, exc.stderr.strip()[-2000:])) from exc
    except subprocess.TimeoutExpired as exc:
        raise PrepareError('%s timed out after %ss' % (' '.join(argv), timeout)) from exc


def _lists_stamp():
    try:
        return os.stat(APT_LISTS).st_mtime_ns
    except OSError:
        return None


def resolve_package():
    """Return ``(package, version)`` of the kernel ``linux-image-amd64`` points at, e.g.
    ``('linux-image-6.1.0-57-amd64', '6.1.192-3')``.  Remembered until the apt lists change."""
    memo = os.path.join(cache_dir('kernel'), 'resolved.json')
    stamp = _lists_stamp()
    try:
        with open(memo, encoding='utf-8') as handle:
            data = json.load(handle)
        if stamp is not None and data.get('stamp') == stamp:
            return data['package'], data['version']
    except (OSError, ValueError, KeyError):
        pass
    # apt-cache depends gives the name only; show gives "Depends: linux-image-X (= version)" in one call.
    out = _run(['apt-cache', 'show', '--no-all-versions', META_PACKAGE], timeout=120).stdout
    for line in out.splitlines():
        if line.startswith('Depends:'):
            for alternative in line.split(':', 1)[1].split(','):
                words = alternative.replace('(', ' ').replace(')', ' ').split()
                if words and words[0].startswith('linux-image-') and len(words) >= 3 and words[1] == '=':
                    package, version = words[0], words[2]
                    break
            else:
                continue
            break
    else:
        raise PrepareError('cannot find the kernel package %s depends on:\n%s' % (META_PACKAGE, out))
    if stamp is not None:
        _write_json(memo, {'stamp': stamp, 'package': package, 'version': version})
    return package, version


def _write_json(path, data):
    tmp = '%s.%d.tmp' % (path, os.getpid())
    with open(tmp, 'w', encoding='utf-8') as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
        handle.write('\n')
    os.replace(tmp, path)


def _ready_kernels():
    """Manifests of complete prepared folders, newest first (fallback where apt is missing)."""
    base = cache_dir('kernel')
    found = []
    for name in os.listdir(base):
        manifest = read_manifest(os.path.join(base, name))
        if manifest:
            found.append((os.path.getmtime(os.path.join(base, name, 'manifest.json')), manifest))
    return [manifest for _mtime, manifest in sorted(found, key=lambda item: item[0], reverse=True)]


def read_manifest(folder):
    """The manifest of a prepared kernel folder (with absolute paths), or None when it is incomplete or outdated."""
    try:
        with open(os.path.join(folder, 'manifest.json'), encoding='utf-8') as handle:
            manifest = json.load(handle)
    except (OSError, ValueError):
        return None
    if manifest.get('layout') != LAYOUT:
        return None
    manifest.update(_paths(folder))
    for key in ('vmlinux', 'initramfs', 'busybox', 'modules'):
        if not os.path.exists(manifest[key]):
            return None
    return manifest


def _paths(folder):
    return {
        'folder': folder,
        'vmlinux': os.path.join(folder, 'vmlinux'),
        'busybox': os.path.join(folder, 'busybox'),
        'modules': os.path.join(folder, 'root', 'lib', 'modules'),
        'initramfs': os.path.join(folder, 'initramfs.cpio'),
    }


def _save_manifest(manifest):
    """Store the manifest without its absolute paths, so the cache folder can move."""
    _write_json(os.path.join(manifest['folder'], 'manifest.json'),
                {key: value for key, value in manifest.items() if key not in _paths('')})


def prepare(quiet=False):
    """Make sure a bootable guest kernel is in the cache; return its manifest (a dict with ``folder``, ``kver``,
    ``vmlinux``, ``initramfs``, ``busybox``, ``modules`` (the ``lib/modules`` folder), ``package``, ``version``).
    Where apt cannot resolve or download the kernel, the newest one already in the cache is used."""
    say = (lambda message: None) if quiet else progress
    try:
        package, version = resolve_package()
        folder = os.path.join(cache_dir('kernel'), '%s_%s' % (package, version))
        manifest = read_manifest(folder)
        if not manifest:
            with open(os.path.join(cache_dir('kernel'), '.lock'), 'w', encoding='utf-8') as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # another session may be preparing the same kernel
                manifest = read_manifest(folder) or _build(folder, package, version, say)
    except PrepareError as exc:
        ready = _ready_kernels()
        if not ready:
            raise
        manifest = ready[0]
        say('kernel: %s; using the cached %s %s' % (exc, manifest['package'], manifest['version']))
    return _refresh_initramfs(manifest, say)


def _build(folder, package, version, say):
    if os.path.exists(folder):
        shutil.rmtree(folder)
    work = tempfile.mkdtemp(prefix='.build-', dir=os.path.dirname(folder))
    try:
        os.chmod(work, 0o755)
        download = os.path.join(work, 'download')
        os.mkdir(download)
        os.chmod(download, 0o777)  # apt-get download drops privileges to _apt when it can
        say('kernel: downloading %s %s' % (package, version))
        _run(['apt-get', 'download', '-q', '%s=%s' % (package, version)], timeout=1800, cwd=download)
        debs = [name for name in os.listdir(download) if name.endswith('.deb')]
        if len(debs) != 1:
            raise PrepareError('apt-get download left %r' % debs)
        root = os.path.join(work, 'root')
        say('kernel: unpacking %s' % debs[0])
        _run(['dpkg-deb', '-x', os.path.join(download, debs[0]), root], timeout=900)
        shutil.rmtree(download)
        modules = os.path.join(root, 'lib', 'modules')
        kvers = os.listdir(modules) if os.path.isdir(modules) else []
        if len(kvers) != 1:
            raise PrepareError('expected one kernel in %s, found %r' % (modules, kvers))
        kver = kvers[0]
        say('kernel: depmod %s' % kver)
        _run(['depmod', '-b', root, kver], timeout=900)
        say('kernel: extracting the ELF vmlinux')
        with open(os.path.join(root, 'boot', 'vmlinuz-%s' % kver), 'rb') as handle:
            elf = extract_vmlinux(handle.read())
        with open(os.path.join(work, 'vmlinux'), 'wb') as handle:
            handle.write(elf)
        busybox = _find_busybox()
        shutil.copy2(busybox, os.path.join(work, 'busybox'))
        os.replace(work, folder)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    manifest = {'layout': LAYOUT, 'package': package, 'version': version, 'kver': kver}
    manifest.update(_paths(folder))
    _build_initramfs(manifest, say)
    _save_manifest(manifest)
    say('kernel: ready in %s' % folder)
    return manifest


def _find_busybox():
    for candidate in BUSYBOX_CANDIDATES:
        if os.path.isfile(candidate) and _is_static_elf(candidate):
            return candidate
    raise PrepareError('a static busybox is needed for the guest (Debian: apt-get install busybox-static)')


def _is_static_elf(path):
    """True for a 64-bit little-endian ELF without a program interpreter (PT_INTERP)."""
    with open(path, 'rb') as handle:
        head = handle.read(64)
        if len(head) < 64 or head[:4] != b'\x7fELF' or head[4] != 2 or head[5] != 1:
            return False
        phoff = struct.unpack_from('<Q', head, 0x20)[0]
        phentsize, phnum = struct.unpack_from('<HH', head, 0x36)
        handle.seek(phoff)
        table = handle.read(phentsize * phnum)
    return all(struct.unpack_from('<I', table, i * phentsize)[0] != 3 for i in range(phnum))


# ---------------------------------------------------------------------------------------------------------------------
# vmlinux from bzImage


def extract_vmlinux(bzimage):
    """Return the uncompressed ELF kernel inside a bzImage (x86 boot protocol >= 2.08: payload_offset/length)."""
    if bzimage[0x202:0x206] != b'HdrS':
        raise PrepareError('not a bzImage (no HdrS signature)')
    protocol = struct.unpack_from('<H', bzimage, 0x206)[0]
    if protocol < 0x208:
        raise PrepareError('boot protocol %#x too old to locate the payload' % protocol)
    setup_sects = bzimage[0x1f1] or 4
    offset, length = struct.unpack_from('<II', bzimage, 0x248)
    start = (setup_sects + 1) * 512 + offset
    payload = bzimage[start:start + length]
    elf = _decompress(payload)
    if not elf.startswith(b'\x7fELF'):
        raise PrepareError('the decompressed kernel payload is not an ELF file')
    return elf


def _decompress(payload):
    if payload.startswith(b'\xfd7zXZ\x00'):
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(payload)
    if payload.startswith(b'\x1f\x8b'):
        return zlib.decompressobj(wbits=31).decompress(payload)
    if payload.startswith(b'BZh'):
        return bz2.BZ2Decompressor().decompress(payload)
    if payload.startswith(b'\x5d\x00\x00'):
        return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(payload)
    if payload.startswith(b'\x28\xb5\x2f\xfd'):
        try:
            return subprocess.run(['zstd', '-dc'], input=payload, check=True, timeout=300, capture_output=True).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            raise PrepareError('the kernel is zstd-compressed and the zstd tool failed: %s' % exc) from exc
    raise PrepareError('unknown kernel compression (magic %s)' % payload[:6].hex())


# ---------------------------------------------------------------------------------------------------------------------
# initramfs


def _module_order(moddir, wanted):
    """Module files (relative to moddir) needed for ``wanted``, dependencies first, from modules.dep."""
    deps = {}
    with open(os.path.join(moddir, 'modules.dep'), encoding='utf-8') as handle:
        for line in handle:
            path, _sep, rest = line.partition(':')
            deps[path.strip()] = rest.split()
    by_name = {}
    for path in deps:
        name = os.path.basename(path).split('.ko')[0].replace('-', '_')
        by_name[name] = path
    builtin = set()
    builtin_file = os.path.join(moddir, 'modules.builtin')
    if os.path.exists(builtin_file):
        with open(builtin_file, encoding='utf-8') as handle:
            builtin = {os.path.basename(line.strip()).split('.ko')[0].replace('-', '_') for line in handle}
    order = []

    def visit(path):
        if path in order:
            return
        for dep in reversed(deps[path]):  # modules.dep lists the closest dependency first
            visit(dep)
        order.append(path)

    for name in wanted:
        if name in by_name:
            visit(by_name[name])
        elif name not in builtin:
            raise PrepareError('kernel module %s not found in %s' % (name, moddir))
    return order


def _read_module(path):
    with open(path, 'rb') as handle:
        data = handle.read()
    if path.endswith('.xz'):
        return lzma.decompress(data)
    if path.endswith('.gz'):
        return gzip.decompress(data)
    if path.endswith('.zst'):
        return subprocess.run(['zstd', '-dc', path], check=True, timeout=120, capture_output=True).stdout
    return data


class _Cpio:
    """A minimal writer for the ``newc`` cpio format the kernel unpacks as initramfs."""

    def __init__(self):
        self.chunks = []
        self.ino = 0

    def add(self, name, mode, data=b'', rdev=(0, 0)):
        self.ino += 1
        encoded = name.encode() + b'\0'
        fields = (self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
        header = b'070701' + b''.join(b'%08X' % field for field in fields)
        self.chunks.append(header + encoded)
        self._pad()
        self.chunks.append(data)
        self._pad()

    def _pad(self):
        size = sum(len(chunk) for chunk in self.chunks)
        self.chunks.append(b'\0' * (-size % 4))

    def finish(self):
        self.add('TRAILER!!!', 0)
        return b''.join(self.chunks)


def _initramfs_recipe(manifest):
    with open(INITRAMFS_INIT, 'rb') as handle:
        init = handle.read()
    with open(manifest['busybox'], 'rb') as handle:
        busybox = handle.read()
    moddir = os.path.join(manifest['modules'], manifest['kver'])
    modules = _module_order(moddir, INITRAMFS_MODULES)
    digest = hashlib.sha256(init + busybox + '\n'.join(modules + list(INITRAMFS_APPLETS)).encode()).hexdigest()
    return init, busybox, moddir, modules, digest


def _build_initramfs(manifest, say):
    init, busybox, moddir, modules, digest = _initramfs_recipe(manifest)
    say('kernel: building the initramfs (%s)' % ' '.join(os.path.basename(m).split('.ko')[0] for m in modules))
    cpio = _Cpio()
    for folder in ('bin', 'dev', 'proc', 'sys', 'lower', 'mem', 'newroot', 'modules'):
        cpio.add(folder, 0o40755)
    cpio.add('dev/console', 0o20600, rdev=(5, 1))
    cpio.add('bin/busybox', 0o100755, busybox)
    for applet in INITRAMFS_APPLETS:  # busybox runs unlinked applets through /proc/self/exe, absent at first
        cpio.add('bin/' + applet, 0o120777, b'busybox')
    names = []
    for path in modules:
        name = os.path.basename(path).split('.ko')[0] + '.ko'
        cpio.add('modules/' + name, 0o100644, _read_module(os.path.join(moddir, path)))
        names.append(name)
    cpio.add('modules/order', 0o100644, ('\n'.join(names) + '\n').encode())
    cpio.add('init', 0o100755, init)
    tmp = manifest['initramfs'] + '.%d.tmp' % os.getpid()
    with open(tmp, 'wb') as handle:
        handle.write(cpio.finish())
    os.replace(tmp, manifest['initramfs'])
    manifest['initramfs_digest'] = digest


def _refresh_initramfs(manifest, say):
    """Rebuild the initramfs when its recipe (init script, busybox, module set) changed since it was built."""
    digest = _initramfs_recipe(manifest)[-1]
    if manifest.get('initramfs_digest') != digest:
        _build_initramfs(manifest, say)
        _save_manifest(manifest)
    return manifest
