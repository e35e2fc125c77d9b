// Composition root for the `bluemarble` command (filled in as subsystems land).
export async function main(argv: string[]): Promise<void> {
  console.log('bluemarble', argv.join(' '));
}
