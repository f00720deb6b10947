/**
 * The connector modules the gateway ships, in the order messages list their
 * kinds. This is the one file under src/ that imports connectors/
 * (test/unit/dependency-rules.test.ts): a new vendor is one more entry here.
 */
import { citrix } from '../../connectors/citrix/index.js';
import { intune } from '../../connectors/intune/index.js';
import { mobileIron } from '../../connectors/mobileiron/index.js';
import { workspaceOne } from '../../connectors/workspace-one/index.js';
import type { ConnectorModule } from '../connectors/module.js';

/**
 * Each module is handed only settings its own schema produced
 * (LoadedConnector.module), which is why modules of different settings
 * types share one list.
 */
export const CONNECTOR_MODULES: readonly ConnectorModule[] = [workspaceOne, mobileIron, citrix, intune];
