import { ConfigError, accountsOf, loadConfig, startOrExit } from '@wxim/config';
import { stringify } from 'yaml';
import { kedaAccountsComponent } from './keda-triggers.js';

/**
 * `npm run --silent keda:accounts > <overlay>/keda-accounts/kustomization.yaml`: a Kustomize
 * Component with a KEDA trigger per account of ACCOUNTS_FILE for both workers, from the
 * deployment's ACCOUNTS_FILE, QUEUE_PREFIX and Redis settings (REDIS_URL for TLS, REDIS_CLUSTER,
 * REDIS_SENTINELS and REDIS_SENTINEL_NAME). Made again whenever the file's accounts change.
 */
await startOrExit('keda:accounts', async () => {
  const config = loadConfig();
  if (config.accounts.length === 0) throw new ConfigError('ACCOUNTS_FILE', 'is not set', 'the accounts file whose accounts the workers should scale on');
  const component = kedaAccountsComponent(
    config,
    accountsOf(config).map((a) => a.account),
  );
  process.stdout.write(
    [
      `# KEDA triggers for every account of ${process.env['ACCOUNTS_FILE'] ?? ''} but default (deploy/k8s/keda.yaml has its), made by`,
      '# `npm run --silent keda:accounts`: each worker scales on the longest backlog of any account.',
      '# Enable it in your overlay (components: [keda-accounts]); make it again when the accounts change.',
      stringify(component, { lineWidth: 0 }),
    ].join('\n'),
  );
});
