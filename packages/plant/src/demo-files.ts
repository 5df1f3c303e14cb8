import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The demo line's plant model shipped with Gemba. */
export const DEMO_MODEL_FILE = path.join(REPO_ROOT, 'examples/demo-line/plant.yaml');
/** The demo line's hidden emulator parameters shipped with Gemba. */
export const DEMO_EMULATOR_FILE = path.join(REPO_ROOT, 'examples/demo-line/emulator.yaml');
