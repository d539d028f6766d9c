import { readConfig as apiGateway } from '@titanium/api-gateway/config';
import { readConfig as authService } from '@titanium/auth-service/config';
import { readConfig as blogService } from '@titanium/blog-service/config';
import { readConfig as dashboardUi } from '@titanium/dashboard-ui/config';
import { readConfig as loadBalancer } from '@titanium/load-balancer/config';
import { type EnvReader, type KitConfig, loadConfig } from '@titanium/service-kit';
import { readConfig as userService } from '@titanium/user-service/config';
import { describe, expect, it } from 'vitest';

describe('service defaults', () => {
  it.each([
    ['load-balancer', loadBalancer, 7100, 'LB_PORT'],
    ['api-gateway', apiGateway, 8000, 'API_GATEWAY_PORT'],
    ['user-service', userService, 8001, 'USER_SERVICE_PORT'],
    ['auth-service', authService, 8002, 'AUTH_SERVICE_PORT'],
    ['blog-service', blogService, 8005, 'BLOG_SERVICE_PORT'],
    ['dashboard-ui', dashboardUi, 8080, 'DASHBOARD_UI_PORT'],
  ] as [string, (env: EnvReader) => { kit: KitConfig }, number, string][])(
    '%s listens on %i unless %s says otherwise',
    (name, read, port, variable) => {
      expect(loadConfig(read, {}).kit).toMatchObject({ name, port, host: '0.0.0.0' });
      expect(loadConfig(read, { [variable]: '9999' }).kit.port).toBe(9999);
    },
  );
});
