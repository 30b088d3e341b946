//! The NICE simulator in a process of its own, for `examples/minimal`: that example is built with
//! exactly the dependencies an embedder writes, so the simulator (an internal crate) cannot live in
//! it. Started by the example, this process serves NICE's API on loopback and plays the user's
//! browser in NICE's window over a pipe, one tab-separated line each way:
//!
//! - first, to stdout: `nice <api_base> <window_url> <client_id> <client_secret>` (the simulator's
//!   own sandbox credentials);
//! - for each line `play <persona> <name> <value> …` read from stdin (the launch form's fields),
//!   to stdout: `callback <method> <name> <value> …` (what NICE sends the browser back with), or
//!   `error <message>`.
//!
//! It stops when stdin closes.
#![forbid(unsafe_code)]

use std::{
    error::Error,
    io::{BufRead, Write},
};

use bonin_sandbox::{
    SandboxServer,
    nice::{NiceSimConfig, NiceSimulator, ResultOverrides, WINDOW_PATH},
};

fn main() -> Result<(), Box<dyn Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let simulator = NiceSimulator::new(NiceSimConfig::default());
    let server = runtime.block_on(SandboxServer::start(simulator.router(), "127.0.0.1:0".parse()?))?;
    let base = server.base_url();
    let (client_id, client_secret) = simulator.client();
    let mut out = std::io::stdout().lock();
    writeln!(out, "nice\t{base}\t{base}{WINDOW_PATH}\t{client_id}\t{client_secret}")?;
    out.flush()?;
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let reply = match line.split('\t').collect::<Vec<_>>().as_slice() {
            ["play", persona, fields @ ..] if fields.len() % 2 == 0 => {
                let fields: Vec<(String, String)> =
                    fields.chunks(2).map(|pair| (pair[0].to_owned(), pair[1].to_owned())).collect();
                match simulator.complete_window(&fields, persona, &ResultOverrides::default()) {
                    Ok(callback) => {
                        let params = callback.params.iter().map(|(name, value)| format!("\t{name}\t{value}"));
                        format!("callback\t{}{}", callback.method, params.collect::<String>())
                    }
                    Err(e) => format!("error\tthe window refused: {e}"),
                }
            }
            _ => "error\tunreadable request".to_owned(),
        };
        writeln!(out, "{reply}")?;
        out.flush()?;
    }
    runtime.block_on(server.shutdown());
    Ok(())
}
