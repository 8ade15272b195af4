//! The `windlass` binary: parse arguments, run, render errors with miette, exit.

mod diagnostic;

fn main() {
    // ssh runs this binary as the TCP dialer of its masters (windlass::transport::dialer).
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == windlass::transport::dialer::SUBCOMMAND)
    {
        let args: Vec<String> = std::env::args_os()
            .skip(2)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        std::process::exit(windlass::transport::dialer::main(&args));
    }
    if let Ok(me) = std::env::current_exe() {
        windlass::transport::dialer::enable(me);
    }
    let code = match windlass::cli::run_cli(std::env::args_os()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{:?}", diagnostic::report(&e));
            e.exit_code()
        }
    };
    std::process::exit(code);
}
