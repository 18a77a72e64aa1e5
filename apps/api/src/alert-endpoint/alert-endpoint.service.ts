import { Injectable } from '@nestjs/common';
import { NotFoundProblem } from '@tidings/runtime';
import { ALERT_EVENT_TYPES } from '@tidings/webhooks';
import type { TenantCtx } from '../auth/tenant.decorator';
import { WebhooksService } from '../webhooks/webhooks.service';
import type { PutAlertEndpointDto } from './alert-endpoint.dto';

/**
 * The tenant's alert endpoint: one URL that receives the operational events of all its subscriptions
 * (`failing`, `disabled`, `enabled`, `exhausted`), signed like any webhook. It is a subscription of kind
 * `alert` — same URL policy, signing, rotation, retries and delivery log — kept apart from the event
 * subscriptions, so a failing subscription cannot swallow its own alert, and without health of its own
 * (never disabled, no operational events about itself: it cannot alert about itself).
 */
@Injectable()
export class AlertEndpointService {
  constructor(private readonly webhooks: WebhooksService) {}

  async get(t: TenantCtx) {
    return this.webhooks.get(t, await this.idOf(t), 'alert');
  }

  /** Creates the endpoint (the response carries its secret) or changes its URL/description. */
  async put(t: TenantCtx, body: PutAlertEndpointDto) {
    const id = await this.webhooks.idOf(t, 'alert');
    if (id === undefined)
      return this.webhooks.create(
        t,
        { url: body.url, description: body.description ?? undefined, eventTypes: [...ALERT_EVENT_TYPES] },
        'alert',
      );
    return this.webhooks.update(t, id, { url: body.url, description: body.description }, 'alert');
  }

  async remove(t: TenantCtx): Promise<void> {
    await this.webhooks.remove(t, await this.idOf(t), 'alert');
  }

  async rotateSecret(t: TenantCtx) {
    return this.webhooks.rotateSecret(t, await this.idOf(t), 'alert');
  }

  async sendTest(t: TenantCtx, message?: string) {
    return this.webhooks.sendTest(t, await this.idOf(t), message, 'alert');
  }

  private async idOf(t: TenantCtx): Promise<string> {
    const id = await this.webhooks.idOf(t, 'alert');
    if (id === undefined) throw new NotFoundProblem('Alert endpoint', 'of this tenant');
    return id;
  }
}
