import { historianContractSuite } from './historian-suite.ts';
import { MemoryHistorian } from './memory-historian.ts';

historianContractSuite('memory', async () => ({ historian: new MemoryHistorian() }));
