import fs from "node:fs";
import path from "node:path";

/** The pure core (catalog, sizing, footprint, config, checks, parsers, clients) never imports Pulumi. */
describe("pure core", () => {
  const root = path.join(__dirname, "..", "core");
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts")) files.push(p);
    }
  };
  walk(root);

  it("has files to check", () => {
    expect(files.length).toBeGreaterThan(20);
  });

  it.each(files.map((f) => [path.relative(root, f), f]))("core/%s imports no @pulumi package", (_rel, file) => {
    const text = fs.readFileSync(file, "utf8");
    expect(text.match(/(from\s+|require\(\s*|import\(\s*)["']@pulumi\/[^"']+["']/g) ?? []).toEqual([]);
  });
});
