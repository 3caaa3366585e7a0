# Source this for cross-target work with Debian's rustc-web toolchain (1.96), whose std
# sources (rust-web-src) let `-Zbuild-std` build std for targets rustup cannot fetch here.
# It shadows rustup's cargo/rustc for this shell only.
export PATH=/usr/bin:/bin:/usr/sbin:/sbin
unset RUSTUP_TOOLCHAIN
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc CARGO=/usr/bin/cargo
# -Zbuild-std is unstable; this unlocks it on the stable compiler.
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc
export CXX_x86_64_pc_windows_gnu=x86_64-w64-mingw32-g++
export AR_x86_64_pc_windows_gnu=x86_64-w64-mingw32-ar
_xbuild=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
for t in x86_64_apple_darwin aarch64_apple_darwin; do
  export CC_$t=$_xbuild/apple-cc-checkonly CXX_$t=$_xbuild/apple-cxx-checkonly AR_$t=llvm-ar-19
done
unset _xbuild
