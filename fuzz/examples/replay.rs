//! Runs one target (or `all`) on files or directories of inputs without libFuzzer, in a plain
//! build: `cargo run --manifest-path fuzz/Cargo.toml --example replay -- mib fuzz/seeds/mib`.
//! For seeds and crash files under a debugger, or on a machine without cargo-fuzz.

use std::path::{Path, PathBuf};

fn files(p: &Path, out: &mut Vec<PathBuf>) {
    match std::fs::read_dir(p) {
        Ok(dir) => {
            for e in dir.flatten() {
                files(&e.path(), out);
            }
        }
        Err(_) => out.push(p.to_path_buf()),
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let target = args.next().unwrap_or_else(|| {
        let names: Vec<_> = wardflux_fuzz::TARGETS.iter().map(|(n, _)| *n).collect();
        eprintln!(
            "usage: replay TARGET|all PATH...   (targets: {})",
            names.join(", ")
        );
        std::process::exit(2);
    });
    let run: wardflux_fuzz::Harness = if target == "all" {
        wardflux_fuzz::run_all
    } else {
        match wardflux_fuzz::TARGETS.iter().find(|(n, _)| *n == target) {
            Some((_, f)) => *f,
            None => {
                eprintln!("unknown target {target}");
                std::process::exit(2);
            }
        }
    };
    let mut inputs = Vec::new();
    for a in args {
        files(Path::new(&a), &mut inputs);
    }
    inputs.sort();
    for f in &inputs {
        let data = std::fs::read(f).unwrap_or_else(|e| panic!("reading {}: {e}", f.display()));
        eprintln!("{target}: {}", f.display());
        run(&data);
    }
    println!("{target}: {} inputs ran", inputs.len());
}
