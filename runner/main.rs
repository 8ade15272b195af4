//! The `windlass` binary: parse arguments, run, render errors with miette, exit.

mod diagnostic;

fn main() {
    let code = match windlass::cli::run_cli(std::env::args_os()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{:?}", diagnostic::report(&e));
            e.exit_code()
        }
    };
    std::process::exit(code);
}
