//! Generates the per-endpoint result-code tables (`codes_generated.rs` in `OUT_DIR`) from
//! `data/result-codes.tsv`. A malformed row becomes a compile error naming the row.

use std::{env, fs, path::PathBuf};

const SOURCE: &str = "data/result-codes.tsv";

fn main() {
    println!("cargo::rerun-if-changed={SOURCE}");
    let data = fs::read_to_string(SOURCE).unwrap_or_default();
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default()).join("codes_generated.rs");
    if let Err(e) = fs::write(&out, tables(&data)) {
        println!("cargo::error=writing {}: {e}", out.display());
    }
}

fn tables(data: &str) -> String {
    let mut tables: Vec<(String, Vec<[String; 3]>)> = Vec::new();
    for line in data.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        let columns: Vec<&str> = line.split('\t').map(str::trim).collect();
        let [endpoint, code, class, meaning] = columns.as_slice() else {
            return format!("compile_error!({:?});\n", format!("{SOURCE}: malformed row `{line}`"));
        };
        let class = match *class {
            "ok" => "Ok",
            "token" => "Token",
            "misconfigured" => "Misconfigured",
            "invalid_input" => "InvalidInput",
            "not_found" => "NotFound",
            "state" => "State",
            "quota" => "Quota",
            "failed" => "Failed",
            other => return format!("compile_error!({:?});\n", format!("{SOURCE}: unknown class `{other}`")),
        };
        let row = [(*code).to_owned(), class.to_owned(), (*meaning).to_owned()];
        match tables.iter_mut().find(|(e, _)| e == endpoint) {
            Some((_, rows)) => rows.push(row),
            None => tables.push(((*endpoint).to_owned(), vec![row])),
        }
    }
    let mut out = String::from(
        "/// Every endpoint's table: (endpoint, [(result_code, class, meaning)]).\n\
         pub(crate) const TABLES: &[(&str, Table)] = &[\n",
    );
    for (endpoint, rows) in &tables {
        out.push_str(&format!("    ({endpoint:?}, &[\n"));
        for [code, class, meaning] in rows {
            out.push_str(&format!("        ({code:?}, Class::{class}, {meaning:?}),\n"));
        }
        out.push_str("    ]),\n");
    }
    out.push_str("];\n");
    out
}
