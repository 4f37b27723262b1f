#!/bin/sh
# Seeds for fuzz_unpack (GNU tar): a mode byte (0x00 raw tar, 0x0e raw rootless
# 511-byte reads, 0x01 gzip), then the layer. Plain layers with files, dirs, symlinks,
# hardlinks, a fifo, whiteouts, an opaque marker, long names, pax/ustar/sparse; hostile
# ones with ../x, absolute names, writes through symlinks, hardlinks out, a directory
# swapped for a symlink. Its output is checked in as tests/fuzz/corpus/unpack/:
#
#   sh tests/fuzz/make-unpack-seeds.sh tests/fuzz/corpus/unpack
#
# 512-byte records (not tar's 10 KiB) keep the seeds small, and fixed times keep them
# the same from one run to the next.
set -e
out=$(realpath -m "${1:-build-fuzz/corpus-unpack}")
export TAR_OPTIONS="--blocking-factor=1 --mtime=@0"
w=$(mktemp -d)
mkdir -p "$out"
cd "$w"
seed() { # name, tar file: raw, raw rootless with 511-byte reads, gzipped
	{ printf '\000'; cat "$2"; } >"$out/$1.tar"
	{ printf '\016'; cat "$2"; } >"$out/$1.rootless.tar"
	{ printf '\001'; gzip -9n <"$2"; } >"$out/$1.tgz"
}
T="tar --format=gnu --numeric-owner --owner=0 --group=0 -cf"
# plain: files, dirs, symlinks, hardlinks, whiteouts, opaque, long names
mkdir -p r/etc r/usr/bin r/var/empty r/gone
echo hello >r/etc/hostname; chmod 0644 r/etc/hostname
printf '#!/bin/sh\n' >r/usr/bin/tool; chmod 4755 r/usr/bin/tool
ln -s ../etc/hostname r/usr/hn; ln r/etc/hostname r/etc/hardlink
touch r/.wh.removed r/gone/.wh..wh..opq
long=$(printf 'd%.0s' $(seq 1 120))/$(printf 'e%.0s' $(seq 1 120))/$(printf 'f%.0s' $(seq 1 200))
mkdir -p "r/$(dirname "$long")"; echo x >"r/$long"
mkfifo r/fifo
(cd r && $T ../plain.tar .); seed plain plain.tar
(cd r && tar --format=pax -cf ../pax.tar .); seed pax pax.tar
(cd r && tar --format=ustar -cf ../ustar.tar etc usr 2>/dev/null || true); seed ustar ustar.tar
(cd r && $T ../sparse.tar --sparse etc); seed sparse sparse.tar
# whiteout of something unpacked earlier in the same layer, and a dir replaced by a file
mkdir -p w/a; echo 1 >w/a/f; touch w/a/.wh.f w/.wh.a
(cd w && $T ../wh.tar a/f a/.wh.f .wh.a); seed whiteouts wh.tar
# hostile: ../x, absolute, symlink then write through it, hardlink out, symlink chains
mkdir h; echo pwn >h/x
$T dotdot.tar --transform='s,^h/x,../x,' -P h/x; seed dotdot dotdot.tar
$T dotdot2.tar --transform='s,^h/x,a/../../outside/x,' -P h/x; seed dotdot2 dotdot2.tar
$T abs.tar --transform='s,^h/x,/tmp/fuzz-unpack-abs,' -P h/x; seed abs abs.tar
mkdir s; ln -s ../outside s/l; echo pwn >s/f
$T symw.tar -C s l --transform='s,^f$,l/f,' f; seed symlink-write symw.tar
rm s/l; ln -s .. s/l
$T symw2.tar -C s l --transform='s,^f$,l/outside/f,' f; seed symlink-write2 symw2.tar
rm s/l; ln -s ../canary s/l; echo pwn >s/f
$T symw3.tar -C s l --transform='s,^f$,l,' f; seed symlink-replace symw3.tar
mkdir -p s2/d; ln -s ../../canary s2/d/c; echo pwn >s2/f; chmod 4777 s2/f
$T symmeta.tar -C s2 d/c --transform='s,^f$,d/c,' f; seed symlink-meta symmeta.tar
$T hl.tar -C s l --hard-dereference --transform='s,^l$,l,' l; seed symlink-only hl.tar
ln s/f s/h1
$T hlout.tar -P -C s f h1 --transform='s,^f$,../canary,RSh'; seed hardlink-out hlout.tar
$T hlout2.tar -P -C s f h1 --transform='s,^f$,/tmp/fuzz-unpack-hl,RSh'; seed hardlink-abs hlout2.tar
rm -f s/h1; ln -s ../outside s/l2; ln s/l2 s/h2
$T hlsym.tar -C s l2 h2 --transform='s,^f$,h2/f,' f; seed hardlink-symlink-write hlsym.tar
$T dev.tar -C / dev/null; seed device dev.tar
rm -f s/h1; ln -s /tmp s/abs
$T symabs.tar -C s abs --transform='s,^f$,abs/fuzz-unpack-escape,' f; seed symlink-abs symabs.tar
# dir then a symlink at the same name then a write through it
mkdir -p s3/d; ln -s ../outside s3/dl; echo pwn >s3/f
$T swap.tar -C s3 d dl --transform='s,^dl$,d,' --transform='s,^f$,d/f,' f; seed dir-swap swap.tar
# whiteout names that try to climb
touch 'h/.wh...'; $T whdot.tar -C h .wh... ; seed whiteout-dotdot whdot.tar
# empty and zero blocks
: >empty.tar; seed empty empty.tar
head -c 10240 /dev/zero >zero.tar; seed zeros zero.tar
rm -rf "$w"
