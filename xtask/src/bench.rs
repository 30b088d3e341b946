//! `cargo xtask bench`: measurements behind every performance statement in `docs/PERFORMANCE.md`.
//!
//! Today: the crypto microbenchmarks (NICE and mobileOK steps, and RSA-2048 OAEP decryption in
//! aws-lc-rs against the `rsa` crate) with `openssl speed rsa2048` as the physical reference. The
//! full run builds in release mode and writes `docs/PERFORMANCE.md`; `--quick` runs every case a few
//! times in the current build and writes nothing, so the harness cannot rot.

use std::{
    fmt::Write as _,
    process::Command,
    time::{Duration, Instant},
};

use aws_lc_rs::{
    encoding::AsDer,
    rsa::{KeySize, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_adapters_mobileok::{CryptoGeneration, KeyFile, crypto as mok};
use bonin_adapters_nice::crypto as nice;
use bonin_domain::{OsRng, SecretString};
use rsa::pkcs8::DecodePrivateKey;

use crate::project_root;

/// One measured case.
struct Row {
    name: &'static str,
    per_op: Duration,
    iterations: u64,
}

/// Runs `f` in batches for about `budget`; reports the median batch's time per call.
fn measure(name: &'static str, budget: Duration, mut f: impl FnMut()) -> Row {
    f(); // warm-up
    let probe = Instant::now();
    f();
    let one = probe.elapsed().max(Duration::from_nanos(50));
    let batch = ((budget.as_nanos() / 7) / one.as_nanos()).clamp(1, 1_000_000) as u64;
    let mut samples = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        for _ in 0..batch {
            f();
        }
        samples.push(started.elapsed() / batch as u32);
    }
    samples.sort();
    Row { name, per_op: samples[2], iterations: batch * 5 }
}

pub(crate) fn human(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns >= 1_000_000 {
        format!("{:.2} ms", ns as f64 / 1e6)
    } else if ns >= 1_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{ns} ns")
    }
}

fn crypto_rows(quick: bool) -> Result<Vec<Row>, String> {
    let budget = if quick { Duration::from_millis(20) } else { Duration::from_millis(1500) };
    let mut rows = Vec::new();

    // NICE: derive + encrypt + HMAC of a window request.
    let plaintext = br#"{"requestno":"vf0000000000000000000000000a","returnurl":"https://id.example/v1/verifications/vf0000000000000000000000000a/return","sitecode":"Q0cyMzI=","methodtype":"post","popupyn":"Y"}"#;
    rows.push(measure("NICE derive keys + AES-128-CBC + HMAC (request)", budget, || {
        let keys = nice::derive_session_keys(
            "20260101120000",
            "vf0000000000000000000000000a",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        );
        let enc = keys.encrypt(plaintext).unwrap_or_default();
        std::hint::black_box(keys.integrity_value(&enc));
    }));
    let keys = nice::derive_session_keys(
        "20260101120000",
        "vf0000000000000000000000000a",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    );
    let result = r#"{"resultcode":"0000","requestno":"vf0000000000000000000000000a","enctime":"20260101120100","sitecode":"Q0cyMzI=","responseno":"ABCDEF0123456789ABCDEF01","authtype":"M","name":"홍길동","utf8_name":"%ED%99%8D%EA%B8%B8%EB%8F%99","birthdate":"19900215","gender":"1","nationalinfo":"0","mobileco":"1","mobileno":"01012345678","ci":"CF/1vXJ4c4gxspHOjBpoB7qS9ROYgF9ooDlX0ztSIuE/RXVQavz4YhfMXqwY+WtJEDTZ475JNWxkakU7/YvpkAAA","di":"6261494DDB406F50CAA58DD52CFA93A735FDE90ED0D977992DCDA10D673FC2B3"}"#;
    let (euc_kr, _, _) = encoding_rs::EUC_KR.encode(result);
    let enc = keys.encrypt(&euc_kr).map_err(|e| e.to_string())?;
    let mac = keys.integrity_value(&enc);
    rows.push(measure("NICE verify HMAC + AES-128-CBC + EUC-KR decode (result)", budget, || {
        keys.verify_integrity(&enc, &mac).ok();
        let plain = keys.decrypt(&enc).unwrap_or_default();
        std::hint::black_box(encoding_rs::EUC_KR.decode_without_bom_handling_and_without_replacement(&plain));
    }));

    // mobileOK: a key file from the simulator, unlocked as the adapter does.
    let sim = bonin_sandbox::mobileok::MobileokSimulator::new(bonin_sandbox::mobileok::MobileokSimConfig::default())
        .ok_or("the mobileOK simulator could not generate keys")?;
    let key_file =
        KeyFile::unlock(&sim.key_file("bench", true), &SecretString::from("bench")).map_err(|e| e.to_string())?;
    let now = time::OffsetDateTime::now_utc();
    rows.push(measure("mobileOK Gen-1 encryptReqClientInfo (RSA-2048 private, rsa crate)", budget, || {
        std::hint::black_box(
            mok::encrypt_req_client_info(&key_file, CryptoGeneration::V1, "vf0000000000000000000000000a", now).ok(),
        );
    }));
    rows.push(measure("mobileOK Gen-2 encryptReqClientInfo (RSA-2048 OAEP public, aws-lc-rs)", budget, || {
        std::hint::black_box(
            mok::encrypt_req_client_info(&key_file, CryptoGeneration::V2, "vf0000000000000000000000000a", now).ok(),
        );
    }));
    let client_public =
        mok::parse_public_key(&STANDARD.encode(key_file.client_public_key_der())).map_err(|e| e.to_string())?;
    let auth_info = r#"{"providerId":"SKT","reqAuthType":"SMS","usageCode":"01005","serviceType":"telcoAuth","userName":"홍길동","userPhone":"01012345678","userBirthday":"19900215","userGender":"1","userNation":"0","retTransferType":"MOKResult"}"#.as_bytes();
    rows.push(measure("mobileOK encryptMOKAuthInfo (AES-256 + RSA-2048 OAEP public)", budget, || {
        std::hint::black_box(mok::server_encrypt(&client_public, auth_info, &OsRng).ok());
    }));
    let sealed = mok::server_encrypt(&client_public, result.as_bytes(), &OsRng).map_err(|e| e.to_string())?;
    rows.push(measure("mobileOK result decryption (RSA-2048 OAEP private + AES-256 + SHA-256)", budget, || {
        std::hint::black_box(mok::decrypt_result(&key_file, &sealed).ok());
    }));

    // RSA-2048 OAEP-SHA-256 decryption: aws-lc-rs (blinded) against the rsa crate (constant-time
    // arithmetic, no blinding without a random generator), on the same key and ciphertext.
    let key = PrivateDecryptingKey::generate(KeySize::Rsa2048).map_err(|_| "RSA key generation failed")?;
    let der = key.as_der().map_err(|_| "PKCS#8 export failed")?.as_ref().to_vec();
    let public = OaepPublicEncryptingKey::new(key.public_key()).map_err(|_| "public key")?;
    let mut ciphertext = vec![0u8; public.ciphertext_size()];
    let ciphertext = public
        .encrypt(
            &OAEP_SHA256_MGF1SHA256,
            b"0123456789abcdef0123456789abcdef0123456789abcdef|hash",
            &mut ciphertext,
            None,
        )
        .map_err(|_| "encrypt")?
        .to_vec();
    let aws = OaepPrivateDecryptingKey::new(key).map_err(|_| "private key")?;
    let mut out = vec![0u8; aws.min_output_size()];
    rows.push(measure("RSA-2048 OAEP-SHA-256 decrypt, aws-lc-rs", budget, || {
        std::hint::black_box(aws.decrypt(&OAEP_SHA256_MGF1SHA256, &ciphertext, &mut out, None).ok());
    }));
    let rust = rsa::PrivateKey::from_pkcs8_der(&der).map_err(|_| "rsa crate key")?;
    rows.push(measure("RSA-2048 OAEP-SHA-256 decrypt, rsa crate 0.10", budget, || {
        std::hint::black_box(rust.decrypt(rsa::Oaep::<rsa::sha2::Sha256>::new(), &ciphertext).ok());
    }));
    Ok(rows)
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn openssl_reference() -> String {
    match command_output("openssl", &["speed", "-seconds", "2", "rsa2048"]) {
        Some(text) => {
            text.lines().filter(|l| l.starts_with("rsa") || l.contains("sign/s")).collect::<Vec<_>>().join("\n")
        }
        None => "openssl not available".into(),
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let rustc = command_output("rustc", &["--version"]).unwrap_or_default();
    format!("{cores} cores, {cpu}; {rustc}")
}

/// The body of the run (called in the build that measures).
pub(crate) fn run_in_process(quick: bool) -> Result<(), String> {
    let rows = crypto_rows(quick)?;
    let mut table = String::from("| case | time per operation | iterations |\n|---|---|---|\n");
    for row in &rows {
        let _ = writeln!(table, "| {} | {} | {} |", row.name, human(row.per_op), row.iterations);
    }
    println!("{table}");
    let service = crate::bench_service::measure(quick)?;
    let service_table = format!(
        "| measurement | result |\n|---|---|\n\
         | cold start, sandbox profile, to `/readyz` = 200 | {} |\n\
         | resident memory per pending verification, memory store ({} pending) | {:.0} bytes |\n\
         | resident memory per pending verification, SQLite store ({} pending) | {:.0} bytes |\n\
         | SQLite file size per pending verification | {:.0} bytes |\n\
         | NICE access-token requests for {} window flows | {} |\n\
         | NICE crypto-token requests for {} window flows | {} (one per verification, by design) |\n",
        human(service.cold_start),
        service.pending,
        service.memory_bytes_per_pending,
        service.pending,
        service.sqlite_bytes_per_pending,
        service.sqlite_file_bytes_per_pending,
        service.flows,
        service.access_token_requests,
        service.flows,
        service.crypto_token_requests,
    );
    println!("{service_table}");
    let bin = crate::bench_service::binary(!quick)?;
    let flows = crate::bench_flows::render(&crate::bench_flows::measure(quick, &bin)?);
    println!("{flows}");
    if quick {
        println!("bench --quick: every case ran; nothing written");
        return Ok(());
    }
    let reference = openssl_reference();
    let time_of = |needle: &str| rows.iter().find(|r| r.name.contains(needle)).map(|r| r.per_op);
    let comparison = match (time_of("decrypt, aws-lc-rs"), time_of("decrypt, rsa crate")) {
        (Some(aws), Some(rust)) => format!(
            "In this run aws-lc-rs decrypted in {} and the `rsa` crate in {} ({:.1}× the aws-lc-rs time).",
            human(aws),
            human(rust),
            rust.as_secs_f64() / aws.as_secs_f64().max(f64::MIN_POSITIVE)
        ),
        _ => String::new(),
    };
    let doc = format!(
        "# Performance\n\n\
         Every figure here was produced by one run of `cargo xtask bench` (release build) and is rewritten \
         by the next; no test asserts a time.\n\n\
         Machine: {}.\n\n\
         ## Whole flows, and the raw floor\n\n\
         Each flow: start through the REST API, the simulated window (the simulators run as a separate \
         `bonin sandbox` process), the return landing, the identity read. `bonin` rows charge the CPU \
         time of the `bonin serve` process; `floor` rows are a minimal client doing the same provider \
         exchanges with plain reqwest and the crypto (no service, no store), charged with its own CPU \
         time. PostgreSQL and Redis rows appear when `BONIN_TEST_POSTGRES_URL` / `BONIN_TEST_REDIS_URL` \
         are set.\n\n{flows}\n\
         ## The service as a process\n\n\
         `bonin serve` (release build) started by the bench; pending verifications are mobileOK OTP \
         sessions created through the REST API (stored, no provider call yet); memory is the growth of \
         the process's resident set while they were created.\n\n{service_table}\n\
         ## Crypto\n\n\
         Median time per operation over five batches.\n\n{table}\n\
         Reference, `openssl speed -seconds 2 rsa2048` on the same machine:\n\n```\n{reference}\n```\n\n\
         ### RSA private-key operations\n\n\
         Results from mobileOK are decrypted with aws-lc-rs: its RSA private operations are blinded, so \
         an attacker who submits ciphertexts cannot time the key out of them; the `rsa` crate (0.10) \
         has constant-time big-integer arithmetic but blinds only when given a random generator. {comparison} \
         The `rsa` crate is used for one operation only, the Gen-1 `encryptReqClientInfo` (an unprefixed \
         PKCS#1 v1.5 private-key operation that aws-lc-rs does not expose), whose input is bonin's own data.\n",
        machine()
    );
    std::fs::write(project_root().join("docs/PERFORMANCE.md"), doc)
        .map_err(|e| format!("writing docs/PERFORMANCE.md: {e}"))?;
    println!("wrote docs/PERFORMANCE.md");
    Ok(())
}

/// `cargo xtask bench [--quick]`: the full run rebuilds xtask in release mode and measures there.
pub(crate) fn run(quick: bool) -> Result<(), String> {
    if quick {
        return run_in_process(true);
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["run", "--release", "-q", "-p", "xtask", "--", "bench-in-process"])
        .current_dir(project_root())
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if status.success() { Ok(()) } else { Err("the release bench failed".into()) }
}
