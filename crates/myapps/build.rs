//! Windows (mingw) builds: libopus, built by the `opus` crate with CMake, uses the stack
//! protector, whose `__stack_chk_fail` lives in mingw's libssp. Rust's windows-gnu target
//! links `-lssp` dynamically, which makes `myapps.exe` need `libssp-0.dll`, which no
//! Windows machine has. The static `libssp.a`, linked whole as this binary's own native
//! library (whole: it comes before libopus on the command line, where nothing needs it yet),
//! defines the symbols before the target's `-lssp` is reached.
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !target.ends_with("-windows-gnu") {
        return;
    }
    let cc_var = format!("CC_{}", target.replace('-', "_"));
    println!("cargo:rerun-if-env-changed={cc_var}");
    let compilers = [
        std::env::var(&cc_var).ok(),
        Some("x86_64-w64-mingw32-gcc".to_owned()),
        Some("gcc".to_owned()),
    ];
    for cc in compilers.into_iter().flatten() {
        let Ok(out) = Command::new(&cc).arg("-print-file-name=libssp.a").output() else {
            continue;
        };
        let path = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if let Some(dir) = path
            .parent()
            .filter(|_| path.is_absolute() && path.exists())
        {
            println!("cargo:rustc-link-search=native={}", dir.display());
            println!("cargo:rustc-link-lib=static:+whole-archive=ssp");
            return;
        }
    }
    println!("cargo:warning=libssp.a not found: myapps.exe may need libssp-0.dll");
}
