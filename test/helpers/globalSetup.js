// Runs once in jest's parent process, so its output is never swallowed.
module.exports = async function globalSetup() {
  if (!process.env.MONGODB_URI) {
    process.stderr.write(
      '\n*** MongoDB contract suite SKIPPED: MONGODB_URI is not set (no MongoDB server on this machine).' +
        '\n*** Set MONGODB_URI (e.g. mongodb://localhost:27017/?replicaSet=rs0) to run it; see README "Running the MongoDB contract tests".\n\n',
    );
  }
};
