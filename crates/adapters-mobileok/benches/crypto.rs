//! mobileOK's crypto steps, and RSA-2048 OAEP decryption in aws-lc-rs against the `rsa` crate (the
//! two RSA implementations this crate uses): `cargo xtask bench` gathers the rows into the crypto
//! table of `docs/PERFORMANCE.md` and appends the note this bench prints after them.
//!
//! `cargo bench -p bonin-adapters-mobileok --bench crypto -- [--budget-ms MS]`
//!
//! Each case runs in five batches sized to take about `MS` milliseconds in all (default 1500 under
//! `cargo bench`, 5 under `cargo test`); the row is the median batch's time per call. Prints one
//! Markdown row per case (case, time per operation, iterations), then a Markdown note.
#![allow(clippy::print_stdout, clippy::print_stderr)] // a bench prints its rows

use std::{
    process::ExitCode,
    time::{Duration, Instant},
};

use aws_lc_rs::{
    encoding::AsDer,
    rsa::{KeySize, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_adapters_mobileok::{CryptoGeneration, KeyFile, crypto};
use bonin_domain::{OsRng, SecretString};
use bonin_sandbox::mobileok::{MobileokSimConfig, MobileokSimulator};
use rsa::pkcs8::DecodePrivateKey;

/// `cargo bench` passes `--bench`; `cargo test` (which runs bench targets too) does not.
fn budget() -> Result<Duration, String> {
    let mut bench = false;
    let mut millis = std::env::var("BONIN_BENCH_BUDGET_MS").ok();
    let mut argv = std::env::args().skip(1);
    while let Some(arg) = argv.next() {
        match arg.as_str() {
            "--bench" => bench = true,
            "--budget-ms" => millis = Some(argv.next().ok_or("--budget-ms needs a number")?),
            _ => {} // test-harness flags and filters from `cargo test`
        }
    }
    match millis {
        Some(text) => text.parse().map(Duration::from_millis).map_err(|_| format!("bad budget {text:?}")),
        None => Ok(Duration::from_millis(if bench { 1500 } else { 5 })),
    }
}

fn human(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns >= 1_000_000 {
        format!("{:.2} ms", ns as f64 / 1e6)
    } else if ns >= 1_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{ns} ns")
    }
}

/// Runs `f` in batches for about `budget`, prints the median batch's time per call and returns it.
fn measure(name: &str, budget: Duration, mut f: impl FnMut()) -> Duration {
    f(); // warm-up
    let probe = Instant::now();
    f();
    let one = probe.elapsed().max(Duration::from_nanos(50));
    let batch = u32::try_from(((budget.as_nanos() / 7) / one.as_nanos()).clamp(1, 1_000_000)).unwrap_or(1);
    let mut samples = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        for _ in 0..batch {
            f();
        }
        samples.push(started.elapsed() / batch);
    }
    samples.sort();
    println!("| {name} | {} | {} |", human(samples[2]), u64::from(batch) * 5);
    samples[2]
}

fn bench(budget: Duration) -> Result<(), String> {
    // A key file from the simulator, unlocked as the adapter does.
    let sim =
        MobileokSimulator::new(MobileokSimConfig::default()).ok_or("the mobileOK simulator could not generate keys")?;
    let key_file =
        KeyFile::unlock(&sim.key_file("bench", true), &SecretString::from("bench")).map_err(|e| e.to_string())?;
    let now = time::OffsetDateTime::now_utc();
    measure("mobileOK Gen-1 encryptReqClientInfo (RSA-2048 private, rsa crate)", budget, || {
        std::hint::black_box(
            crypto::encrypt_req_client_info(&key_file, CryptoGeneration::V1, "vf0000000000000000000000000a", now).ok(),
        );
    });
    measure("mobileOK Gen-2 encryptReqClientInfo (RSA-2048 OAEP public, aws-lc-rs)", budget, || {
        std::hint::black_box(
            crypto::encrypt_req_client_info(&key_file, CryptoGeneration::V2, "vf0000000000000000000000000a", now).ok(),
        );
    });
    let client_public =
        crypto::parse_public_key(&STANDARD.encode(key_file.client_public_key_der())).map_err(|e| e.to_string())?;
    let auth_info = r#"{"providerId":"SKT","reqAuthType":"SMS","usageCode":"01005","serviceType":"telcoAuth","userName":"홍길동","userPhone":"01012345678","userBirthday":"19900215","userGender":"1","userNation":"0","retTransferType":"MOKResult"}"#.as_bytes();
    measure("mobileOK encryptMOKAuthInfo (AES-256 + RSA-2048 OAEP public)", budget, || {
        std::hint::black_box(crypto::server_encrypt(&client_public, auth_info, &OsRng).ok());
    });
    let result = r#"{"resultCode":"2000","clientTxId":"vf0000000000000000000000000a","userName":"홍길동","userPhone":"01012345678","userBirthday":"19900215","userGender":"1","userNation":"0","ci":"CF/1vXJ4c4gxspHOjBpoB7qS9ROYgF9ooDlX0ztSIuE/RXVQavz4YhfMXqwY+WtJEDTZ475JNWxkakU7/YvpkAAA","di":"6261494DDB406F50CAA58DD52CFA93A735FDE90ED0D977992DCDA10D673FC2B3"}"#;
    let sealed = crypto::server_encrypt(&client_public, result.as_bytes(), &OsRng).map_err(|e| e.to_string())?;
    measure("mobileOK result decryption (RSA-2048 OAEP private + AES-256 + SHA-256)", budget, || {
        std::hint::black_box(crypto::decrypt_result(&key_file, &sealed).ok());
    });

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
    let aws_time = measure("RSA-2048 OAEP-SHA-256 decrypt, aws-lc-rs", budget, || {
        std::hint::black_box(aws.decrypt(&OAEP_SHA256_MGF1SHA256, &ciphertext, &mut out, None).ok());
    });
    let rust = rsa::PrivateKey::from_pkcs8_der(&der).map_err(|_| "rsa crate key")?;
    let rust_time = measure("RSA-2048 OAEP-SHA-256 decrypt, rsa crate 0.10", budget, || {
        std::hint::black_box(rust.decrypt(rsa::Oaep::<rsa::sha2::Sha256>::new(), &ciphertext).ok());
    });
    println!(
        "\n### RSA private-key operations\n\n\
         Results from mobileOK are decrypted with aws-lc-rs: its RSA private operations are blinded, so \
         an attacker who submits ciphertexts cannot time the key out of them; the `rsa` crate (0.10) \
         has constant-time big-integer arithmetic but blinds only when given a random generator. In this \
         run aws-lc-rs decrypted in {} and the `rsa` crate in {} ({:.1}× the aws-lc-rs time). The `rsa` \
         crate is used for one operation only, the Gen-1 `encryptReqClientInfo` (an unprefixed PKCS#1 \
         v1.5 private-key operation that aws-lc-rs does not expose), whose input is bonin's own data.",
        human(aws_time),
        human(rust_time),
        rust_time.as_secs_f64() / aws_time.as_secs_f64().max(f64::MIN_POSITIVE)
    );
    Ok(())
}

fn main() -> ExitCode {
    match budget().and_then(bench) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("crypto: {message}");
            ExitCode::FAILURE
        }
    }
}
