/**
 * `gpu-hosting completion bash|zsh|fish`: a shell completion script generated from the commander
 * program tree (commands, options, arguments), with the values the CLI accepts for `--format`,
 * `--dtype`, `--kv-cache-dtype`, `--engine`, `--provider`, `--sort`, `--cooling`, and the catalog's GPU, model and offer
 * ids. The catalog is read when the script is generated: regenerate after an upgrade. Stack names
 * (`--stack`) are read from `stacks/Pulumi.*.yaml` when completing.
 */
import type { Argument, Command, Option } from "commander";
import { catalog } from "../core/catalog";
import { COOLING_TYPES } from "../core/footprint";
import { SORT_KEYS } from "../core/planner";
import { DTYPES, KV_CACHE_DTYPES } from "../core/sizing/dtypes";
import { ENGINES } from "../core/sizing/engines";
import { badValue } from "./errors";
import { SHELLS } from "./lazyCommands";

export { SHELLS };
export type Shell = (typeof SHELLS)[number];

/** What a value completes to: listed words, file names, directory names, stack names, or nothing offered. */
export type Values = { words: string[] } | "files" | "dirs" | "stacks" | "none";

/** One option of a command, as completion sees it. */
export interface OptionSpec {
  /** `-m`, `--model`. */
  names: string[];
  description: string;
  takesValue: boolean;
  values: Values;
}

/** One command of the tree (the root has the empty path). */
export interface CommandSpec {
  path: string[];
  description: string;
  subcommands: CommandSpec[];
  options: OptionSpec[];
  /** What the command's positional arguments complete to. */
  args: Values;
}

/** Words are put into shell scripts: only these characters, so no value can break out of its quotes. */
const SAFE_WORD = /^[A-Za-z0-9._/:@+-]+$/;
const words = (xs: Iterable<string>): Values => ({ words: [...new Set(xs)].filter((x) => SAFE_WORD.test(x)) });

/** Values of options, by long flag (a command-specific entry, `path|flag`, wins). */
function optionValues(path: string, option: Option): Values {
  if (option.argChoices) return words(option.argChoices);
  const c = catalog();
  const long = option.long ?? "";
  switch (`${path}|${long}`) {
    case "fit|--dtype":
      return words(["best", ...DTYPES]);
  }
  switch (long) {
    case "--format":
      return words(["text", "markdown", "json"]);
    case "--dtype":
      return words(DTYPES);
    case "--kv-cache-dtype":
      return words(KV_CACHE_DTYPES);
    case "--engine":
      return words(ENGINES);
    case "--gpu":
    case "--owned":
      return words(c.gpus.map((g) => g.id));
    case "--model":
      return words(c.models.flatMap((m) => [m.id, ...m.aliases]));
    case "--offer":
      return words(c.offers.map((o) => o.id));
    case "--provider":
      return words(c.offers.map((o) => o.provider));
    case "--vllm-version":
      return words(["latest"]);
    case "--sort":
      return words(SORT_KEYS);
    case "--cooling":
      return words(COOLING_TYPES);
    case "--stack":
      return "stacks";
    case "--out":
      return "dirs";
  }
  return /<(file|path|dir)>|\[(file|path)\]/.test(option.flags) ? "files" : "none";
}

/** Values of a command's positional arguments, by the argument's name. */
function argumentValues(args: readonly Argument[]): Values {
  const a = args[0];
  if (!a) return "none";
  if (a.argChoices) return words(a.argChoices);
  switch (a.name()) {
    case "model":
      return words(catalog().models.flatMap((m) => [m.id, ...m.aliases]));
    case "shell":
      return words(SHELLS);
    case "stack-file":
      return "files";
  }
  return "none";
}

const firstSentence = (s: string): string => {
  const one = s.split(/(?<=[a-z)])[.;] /)[0] ?? s;
  return one.length > 80 ? `${one.slice(0, 77)}...` : one;
};

/** The program as completion sees it: every command, its options (with the root's global ones) and what values complete to. */
export function commandTree(program: Command): CommandSpec {
  const globals = program.options.filter((o) => !o.hidden && o.long !== "--version");
  const walk = (cmd: Command, path: string[]): CommandSpec => {
    const key = path.join(" ");
    const own = cmd === program ? cmd.options : [...cmd.options, ...globals];
    const options: OptionSpec[] = own
      .filter((o) => !o.hidden)
      .map((o) => ({
        names: [o.short, o.long].filter((n): n is string => n !== undefined),
        description: firstSentence(o.description),
        takesValue: o.required || o.optional,
        values: o.required || o.optional ? optionValues(key, o) : "none",
      }));
    options.push({ names: ["-h", "--help"], description: "display help for command", takesValue: false, values: "none" });
    const subcommands = cmd.commands.map((c) => walk(c, [...path, c.name()]));
    return { path, description: firstSentence(cmd.description()), subcommands, options, args: argumentValues(cmd.registeredArguments) };
  };
  return walk(program, []);
}

const flatten = (c: CommandSpec): CommandSpec[] => [c, ...c.subcommands.flatMap(flatten)];

/** `a b c`: the words of a Values for a shell word list; files/dirs/stacks become a marker the script acts on. */
const shellWords = (v: Values): string => (typeof v === "object" ? v.words.join(" ") : v === "none" ? "" : `@${v}`);

/** Shell functions (POSIX `case`, valid in bash and zsh) that answer: subcommands, options, whether an option takes a value, and values. */
function dataFunctions(name: string, tree: CommandSpec): string {
  const fn = name.replace(/-/g, "_");
  const all = flatten(tree);
  const q = (s: string): string => `"${s}"`;
  const out: string[] = [];
  out.push(`__${fn}_subcommands() {`, '  case "$1" in');
  for (const c of all.filter((c) => c.subcommands.length > 0)) out.push(`    ${q(c.path.join(" "))}) echo ${q([...c.subcommands.map((s) => s.path.at(-1)!), "help"].join(" "))} ;;`);
  out.push("  esac", "}", "");
  out.push(`__${fn}_options() {`, '  case "$1" in');
  for (const c of all) out.push(`    ${q(c.path.join(" "))}) echo ${q(c.options.flatMap((o) => o.names).join(" "))} ;;`);
  out.push("  esac", "}", "");
  out.push(`__${fn}_takes_value() {`, '  case "$1|$2" in');
  const valued = all.flatMap((c) => c.options.filter((o) => o.takesValue).flatMap((o) => o.names.map((n) => q(`${c.path.join(" ")}|${n}`))));
  if (valued.length > 0) out.push(`    ${valued.join("|")}) return 0 ;;`);
  out.push("  esac", "  return 1", "}", "");
  out.push(`# Values of an option (or @arg: the command's arguments); @files, @dirs and @stacks are completed by the shell.`, `__${fn}_values() {`, '  case "$1|$2" in');
  for (const c of all) {
    for (const o of c.options.filter((o) => o.takesValue && o.values !== "none")) out.push(`    ${o.names.map((n) => q(`${c.path.join(" ")}|${n}`)).join("|")}) echo ${q(shellWords(o.values))} ;;`);
    if (c.args !== "none") out.push(`    ${q(`${c.path.join(" ")}|@arg`)}) echo ${q(shellWords(c.args))} ;;`);
  }
  out.push("  esac", "}", "");
  return out.join("\n");
}

/** A bash completion script for `name` (`complete -F`). */
export function bashScript(name: string, tree: CommandSpec): string {
  const fn = name.replace(/-/g, "_");
  return `# bash completion for ${name}, generated by \`${name} completion bash\`.
# Install: ${name} completion bash > ~/.local/share/bash-completion/completions/${name}
#     or:  source <(${name} completion bash)   (in ~/.bashrc)

${dataFunctions(name, tree)}
_${fn}() {
  local cur prev word cmdpath i skip sub values opt
  COMPREPLY=()
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev=""
  (( COMP_CWORD > 0 )) && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmdpath=""
  skip=0
  # Walk the words before the cursor: descend into subcommands, skip option values.
  for (( i = 1; i < COMP_CWORD; i++ )); do
    word="\${COMP_WORDS[i]}"
    if (( skip )); then skip=0; continue; fi
    case "$word" in
      -*=*) continue ;;
      -*) __${fn}_takes_value "$cmdpath" "$word" && skip=1; continue ;;
    esac
    for sub in $(__${fn}_subcommands "$cmdpath"); do
      if [[ "$sub" == "$word" && "$sub" != help ]]; then cmdpath="\${cmdpath:+$cmdpath }$word"; break; fi
    done
  done
  # --flag=value (bash splits at "=" by default: the words are --flag, =, value).
  if [[ "$cur" == "=" ]] && __${fn}_takes_value "$cmdpath" "$prev"; then
    opt="$prev"; cur=""
  elif [[ "$prev" == "=" ]] && (( COMP_CWORD > 1 )) && __${fn}_takes_value "$cmdpath" "\${COMP_WORDS[COMP_CWORD-2]}"; then
    opt="\${COMP_WORDS[COMP_CWORD-2]}"
  elif [[ "$cur" == -*=* ]]; then
    opt="\${cur%%=*}"; cur="\${cur#*=}"
  elif (( skip )); then
    opt="$prev"
  fi
  if [[ -n "$opt" ]]; then
    values="$(__${fn}_values "$cmdpath" "$opt")"
  elif [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$(__${fn}_options "$cmdpath")" -- "$cur") )
    return 0
  else
    values="$(__${fn}_subcommands "$cmdpath") $(__${fn}_values "$cmdpath" @arg)"
  fi
  case "$values" in
    *@files*) compopt -o filenames 2>/dev/null; COMPREPLY=( $(compgen -f -- "$cur") ) ;;
    *@dirs*) compopt -o filenames 2>/dev/null; COMPREPLY=( $(compgen -d -- "$cur") ) ;;
    *@stacks*)
      local f stacks=""
      for f in stacks/Pulumi.*.yaml; do
        [[ -e "$f" ]] || continue
        f="\${f#stacks/Pulumi.}"; stacks="$stacks \${f%.yaml}"
      done
      COMPREPLY=( $(compgen -W "$stacks" -- "$cur") ) ;;
    *) COMPREPLY=( $(compgen -W "$values" -- "$cur") ) ;;
  esac
  return 0
}

complete -F _${fn} ${name}
`;
}

/** A zsh completion script: put it on \`$fpath\` as \`_${"<name>"}\`, or source it after \`compinit\`. */
export function zshScript(name: string, tree: CommandSpec): string {
  const fn = name.replace(/-/g, "_");
  return `#compdef ${name}
# zsh completion for ${name}, generated by \`${name} completion zsh\`.
# Install: ${name} completion zsh > "\${fpath[1]}/_${name}"   (then restart zsh)
#     or:  source <(${name} completion zsh)   (in ~/.zshrc, after compinit)

${dataFunctions(name, tree)}
_${fn}() {
  local cur prev word cmdpath i skip sub values opt
  local -a candidates
  cur="\${words[CURRENT]}"
  prev="\${words[CURRENT-1]}"
  cmdpath=""
  skip=0
  for (( i = 2; i < CURRENT; i++ )); do
    word="\${words[i]}"
    if (( skip )); then skip=0; continue; fi
    case "$word" in
      -*=*) continue ;;
      -*) __${fn}_takes_value "$cmdpath" "$word" && skip=1; continue ;;
    esac
    for sub in \${=$(__${fn}_subcommands "$cmdpath")}; do
      if [[ "$sub" == "$word" && "$sub" != help ]]; then cmdpath="\${cmdpath:+$cmdpath }$word"; break; fi
    done
  done
  if [[ "$cur" == -*=* ]]; then
    opt="\${cur%%=*}"; compset -P '*='
  elif (( skip )); then
    opt="$prev"
  fi
  if [[ -n "$opt" ]]; then
    values="$(__${fn}_values "$cmdpath" "$opt")"
  elif [[ "$cur" == -* ]]; then
    candidates=(\${=$(__${fn}_options "$cmdpath")})
    compadd -a candidates
    return
  else
    values="$(__${fn}_subcommands "$cmdpath") $(__${fn}_values "$cmdpath" @arg)"
  fi
  case "$values" in
    *@files*) _files ;;
    *@dirs*) _files -/ ;;
    *@stacks*)
      candidates=(stacks/Pulumi.*.yaml(N))
      candidates=(\${\${candidates#stacks/Pulumi.}%.yaml})
      compadd -a candidates ;;
    *)
      candidates=(\${=values})
      compadd -a candidates ;;
  esac
}

if [ "$funcstack[1]" = "_${name}" ]; then
  _${fn} "$@"
else
  compdef _${fn} ${name}
fi
`;
}

/** A fish completion script (\`complete -c\` lines). */
export function fishScript(name: string, tree: CommandSpec): string {
  const sq = (s: string): string => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  const lines: string[] = [`# fish completion for ${name}, generated by \`${name} completion fish\`.`, `# Install: ${name} completion fish > ~/.config/fish/completions/${name}.fish`, "", `complete -c ${name} -f`];
  const condition = (c: CommandSpec): string => {
    if (c.path.length === 0) return "__fish_use_subcommand";
    const seen = c.path.map((p) => `__fish_seen_subcommand_from ${p}`);
    const deeper = c.subcommands.map((s) => s.path.at(-1)!);
    return [...seen, ...(deeper.length > 0 ? [`not __fish_seen_subcommand_from ${deeper.join(" ")}`] : [])].join("; and ");
  };
  const valueArgs = (v: Values): string =>
    typeof v === "object" ? `-x -a ${sq(v.words.join(" "))}` : v === "files" || v === "dirs" ? "-r -F" : v === "stacks" ? `-x -a ${sq("(string replace -r '^stacks/Pulumi\\.(.*)\\.yaml$' '$1' stacks/Pulumi.*.yaml)")}` : "-x";
  for (const c of flatten(tree)) {
    const cond = condition(c);
    lines.push("", `# ${c.path.length === 0 ? name : `${name} ${c.path.join(" ")}`}`);
    for (const s of c.subcommands) lines.push(`complete -c ${name} -n ${sq(cond)} -a ${s.path.at(-1)!} -d ${sq(s.description)}`);
    for (const o of c.options) {
      const short = o.names.filter((n) => /^-[^-]$/.test(n)).map((n) => `-s ${n.slice(1)}`);
      const long = o.names.filter((n) => n.startsWith("--")).map((n) => `-l ${n.slice(2)}`);
      lines.push(`complete -c ${name} -n ${sq(cond)} ${[...short, ...long].join(" ")}${o.takesValue ? ` ${valueArgs(o.values)}` : ""} -d ${sq(o.description)}`);
    }
    if (c.args !== "none") lines.push(`complete -c ${name} -n ${sq(cond)} ${c.args === "files" || c.args === "dirs" ? "-F" : `-a ${sq(shellWords(c.args))}`}`);
  }
  return `${lines.join("\n")}\n`;
}

/** The completion script for a shell. */
export function completionScript(program: Command, shell: Shell): string {
  const tree = commandTree(program);
  const name = program.name();
  return shell === "bash" ? bashScript(name, tree) : shell === "zsh" ? zshScript(name, tree) : fishScript(name, tree);
}

/** Parses the `<shell>` argument. @throws UsageError naming the value and the shells. */
export function parseShell(value: string): Shell {
  const s = value.toLowerCase();
  if (!(SHELLS as readonly string[]).includes(s)) throw badValue("<shell>", value, `allowed: ${SHELLS.join(", ")}`);
  return s as Shell;
}

