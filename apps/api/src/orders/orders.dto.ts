import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsString,
  Length,
  Matches,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import { IsStringMap } from '../http/string-map.validator';
import { IfPresent, Nullable } from '../http/optional.validator';
import { IsTimestamp } from '../http/timestamp.validator';
import { resourceDtos } from '../docs/resource-schema';
import { ApiNonEmptyBody } from '../docs/validation-schema';
import { PageQuery } from '../resources/resources.dto';
import { ORDER_STATUSES } from './order-lifecycle';
import { ORDER } from './order.resource';

export class OrderItemDto {
  @ApiProperty({ example: 'TSHIRT-M' })
  @IsString()
  @Length(1, 64)
  sku!: string;

  @ApiProperty({ example: 2 })
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  quantity!: number;

  @ApiProperty({ example: 1950, description: 'Unit price in minor units (cents)' })
  @IsInt()
  @Min(0)
  @Max(1_000_000_000_000)
  unitPriceMinor!: number;
}

export class CreateOrderDto {
  @ApiProperty({ example: 'cus_42' })
  @IsString()
  @Length(1, 128)
  customerId!: string;

  @ApiProperty({ example: 'EUR' })
  @Matches(/^[A-Z]{3}$/, { message: 'currency must be an ISO 4217 code such as EUR' })
  currency!: string;

  @ApiProperty({ type: [OrderItemDto] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => OrderItemDto)
  items!: OrderItemDto[];

  @ApiPropertyOptional({ nullable: true, example: 'Leave at the door' })
  @Nullable()
  @IsString()
  @Length(0, 2000)
  notes?: string | null;

  @ApiPropertyOptional({ example: { channel: 'web' } })
  @IfPresent()
  @IsStringMap()
  metadata?: Record<string, string>;
}

/** A patch that changes nothing is refused (OrdersService.update), so an empty one is too. */
@ApiNonEmptyBody()
export class UpdateOrderDto {
  @ApiPropertyOptional()
  @IfPresent()
  @IsString()
  @Length(1, 128)
  customerId?: string;

  @ApiPropertyOptional({ type: [OrderItemDto] })
  @IfPresent()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => OrderItemDto)
  items?: OrderItemDto[];

  @ApiPropertyOptional({ nullable: true })
  @Nullable()
  @IsString()
  @Length(0, 2000)
  notes?: string | null;

  @ApiPropertyOptional()
  @IfPresent()
  @IsStringMap()
  metadata?: Record<string, string>;
}

export class PayOrderDto {
  @ApiPropertyOptional({ example: 'pi_123' })
  @IfPresent()
  @IsString()
  @Length(1, 256)
  paymentReference?: string;
}

export class ShipOrderDto {
  @ApiPropertyOptional({ example: 'DHL' })
  @IfPresent()
  @IsString()
  @Length(1, 256)
  carrier?: string;

  @ApiPropertyOptional({ example: 'JD0146000' })
  @IfPresent()
  @IsString()
  @Length(1, 256)
  trackingNumber?: string;
}

export class CancelOrderDto {
  @ApiPropertyOptional({ example: 'Customer changed their mind' })
  @IfPresent()
  @IsString()
  @Length(1, 500)
  reason?: string;
}

export class ListOrdersQuery extends PageQuery {
  @ApiPropertyOptional({ enum: ORDER_STATUSES })
  @IfPresent()
  @IsIn(ORDER_STATUSES)
  status?: string;

  @ApiPropertyOptional()
  @IfPresent()
  @IsString()
  @Length(1, 128)
  customerId?: string;

  @ApiPropertyOptional()
  @IfPresent()
  @IsTimestamp()
  createdAfter?: string;

  @ApiPropertyOptional()
  @IfPresent()
  @IsTimestamp()
  createdBefore?: string;
}

/** Response shapes of the order endpoints: the order's view, derived from its state schema (order.resource.ts). */
export const { view: OrderDto, page: OrderPageDto } = resourceDtos(ORDER, 'Order');
