/**
 * Lets plain Node (worker threads, child processes) `require` the project's .ts sources by
 * transpiling them on the fly with TypeScript (no type checking). Used by test helpers only.
 */
const fs = require('node:fs');
const ts = require('typescript');

if (!require.extensions['.ts']) {
  require.extensions['.ts'] = function compileTs(mod, filename) {
    const source = fs.readFileSync(filename, 'utf8');
    const { outputText } = ts.transpileModule(source, {
      fileName: filename,
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
    });
    mod._compile(outputText, filename);
  };
}
