//! The `bonin` command.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)] // a command line prints

use std::process::ExitCode;

fn usage() -> String {
    let mut text = String::from("usage: bonin <command>\n\ncommands:\n");
    for (name, about, available) in bonin_app::COMMANDS {
        let mark = if available { "" } else { " (not in this build yet)" };
        text.push_str(&format!("  {name:<9} {about}{mark}\n"));
    }
    text
}

fn main() -> ExitCode {
    let command = std::env::args().nth(1);
    match command.as_deref() {
        None | Some("-h" | "--help" | "help") => {
            print!("{}", usage());
            ExitCode::SUCCESS
        }
        Some(name) => match bonin_app::COMMANDS.iter().find(|(n, _, _)| *n == name) {
            Some((_, about, _)) => {
                println!("bonin {name}: {about}.");
                println!("This build contains the domain core, the session store, the HTTP client and the");
                println!("simulator harness; `{name}` is not in it yet. Run `cargo xtask ci` to check the workspace.");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("bonin: unknown command `{name}`\n\n{}", usage());
                ExitCode::from(2)
            }
        },
    }
}
