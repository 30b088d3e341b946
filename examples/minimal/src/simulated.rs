//! NICE and the user's browser, simulated in another process (see the crate docs for why): starts
//! `cargo run -p bonin-examples --bin nice-simulator` and talks to it over its stdin and stdout
//! (the line protocol is described in `examples/nice_simulator.rs`).

use bonin_domain::{CallbackParams, CallbackTransport};
use std::{
    error::Error,
    io::{BufRead, BufReader, Write},
    process::{Child, ChildStdin, ChildStdout, Command, Stdio},
};

/// The running simulator: NICE's API at `api_base`, its window at `window_url`, and the sandbox
/// credentials it accepts.
pub struct Nice {
    pub api_base: String,
    pub window_url: String,
    pub client_id: String,
    pub client_secret: String,
    child: Child,
    to_sim: ChildStdin,
    from_sim: BufReader<ChildStdout>,
}

impl Nice {
    /// Builds (if needed) and starts the simulator, and reads where it listens.
    pub fn start() -> Result<Self, Box<dyn Error>> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut child = Command::new(cargo)
            .args(["run", "-q", "--locked", "-p", "bonin-examples", "--bin", "nice-simulator"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let (Some(to_sim), Some(from_sim)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("the simulator's pipes are missing".into());
        };
        let mut from_sim = BufReader::new(from_sim);
        let mut line = String::new();
        from_sim.read_line(&mut line)?;
        let parts: Vec<&str> = line.trim_end().split('\t').collect();
        let ["nice", api_base, window_url, client_id, client_secret] = parts.as_slice() else {
            let _ = child.kill();
            return Err("the NICE simulator did not start".into());
        };
        let (api_base, window_url) = ((*api_base).to_owned(), (*window_url).to_owned());
        let (client_id, client_secret) = ((*client_id).to_owned(), (*client_secret).to_owned());
        Ok(Self { api_base, window_url, client_id, client_secret, child, to_sim, from_sim })
    }

    /// The user, as `persona`, goes through NICE's window opened with the launch form's `fields`;
    /// returns what NICE sends the browser back with.
    pub fn play_window(
        &mut self,
        fields: &[(String, String)],
        persona: &str,
    ) -> Result<CallbackParams, Box<dyn Error>> {
        let mut request = format!("play\t{persona}");
        for (name, value) in fields {
            if [name, value].iter().any(|s| s.contains(['\t', '\n'])) {
                return Err("a launch field holds a tab or a line break".into());
            }
            request.push_str(&format!("\t{name}\t{value}"));
        }
        writeln!(self.to_sim, "{request}")?;
        self.to_sim.flush()?;
        let mut line = String::new();
        self.from_sim.read_line(&mut line)?;
        match line.trim_end().split('\t').collect::<Vec<_>>().as_slice() {
            ["callback", method, params @ ..] if params.len() % 2 == 0 => {
                let transport = if *method == "get" { CallbackTransport::Get } else { CallbackTransport::Post };
                let pairs = params.chunks(2).map(|pair| (pair[0].to_owned(), pair[1].to_owned()));
                Ok(CallbackParams::from_pairs(transport, pairs))
            }
            ["error", message] => Err((*message).to_owned().into()),
            _ => Err("the NICE simulator answered something unreadable".into()),
        }
    }

    /// Closes the pipe, which stops the simulator.
    pub fn stop(self) -> Result<(), Box<dyn Error>> {
        let Self { mut child, to_sim, .. } = self;
        drop(to_sim);
        let status = child.wait()?;
        if status.success() { Ok(()) } else { Err(format!("the NICE simulator ended with {status}").into()) }
    }
}
